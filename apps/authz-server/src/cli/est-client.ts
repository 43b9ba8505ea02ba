// The client side of EST (RFC 7030) that `certbound enroll` and `certbound renew` share: a key
// made on this machine (it never leaves it), a PKCS#10 request signed with it, one HTTPS exchange
// with the server's CA pinned, the base64 PKCS#7 certs-only answer read back through
// @peculiar/x509, and the files written so that a reader never sees half of a pair.
import { X509Certificate, createPrivateKey, createPublicKey, randomBytes, type KeyObject, type webcrypto } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { request } from 'node:https';
import { basename, dirname, join } from 'node:path';
import { x509 } from '../mtls/x509.ts';
import { CommandError, LateUsageError } from './admin/errors.ts';
import { printable } from './admin/output.ts';
import { checkHttpsUrl, dataDir, defaultUrl } from './admin/settings.ts';
import type { CliIo } from './command.ts';

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-3072'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

type KeyParams = { generate: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams; sign: webcrypto.EcdsaParams | webcrypto.Algorithm };
const KEY_PARAMS: Record<KeyType, KeyParams> = {
  'ec-p256': { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  'ec-p384': { generate: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
  'rsa-3072': {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
};

export const checkKeyType = (value: string): string | undefined => ((KEY_TYPES as readonly string[]).includes(value) ? undefined : `must be one of ${KEY_TYPES.join(', ')}`);

/** The key type of an existing private key, so a renewal keeps what the operator chose. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ec-p256';
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'secp384r1') return 'ec-p384';
  if (key.asymmetricKeyType === 'rsa' && details?.modulusLength === 3072) return 'rsa-3072';
  return undefined;
}

export interface KeyAndCsr {
  /** the PKCS#8 PEM of the new private key */
  keyPem: string;
  /** the DER SubjectPublicKeyInfo, to check the certificate certifies this key */
  spki: Buffer;
  /** the PKCS#10 request, base64 DER as RFC 7030 §4.2.1 sends it */
  csrBase64: string;
}

/**
 * A fresh key pair and a CSR signed with it (proof of possession). The subject is only a label:
 * the server writes the client's registered identity into the certificate, never the CSR's.
 */
export async function newRequest(type: KeyType, clientId: string): Promise<KeyAndCsr> {
  const { generate, sign } = KEY_PARAMS[type];
  const keys = await globalThis.crypto.subtle.generateKey(generate, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [clientId] }], keys, signingAlgorithm: sign });
  const pkcs8 = Buffer.from(await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
  const spki = Buffer.from(await globalThis.crypto.subtle.exportKey('spki', keys.publicKey));
  return { keyPem, spki, csrBase64: Buffer.from(csr.rawData).toString('base64') };
}

// ---------------------------------------------------------------------------------------------
// Where to connect and what to trust

export interface Server {
  /** the mutual-TLS listener, ending in "/" */
  base: URL;
  /** PEM that verifies the server's certificate (replaces the system store) */
  ca: string;
  caFile: string;
}

/** --url, else $CERTBOUND_URL, else the dev mTLS port; --ca, else $CERTBOUND_CA, else DATA_DIR/pki/ca.pem. */
export async function serverOf(flags: { url?: string | undefined; ca?: string | undefined }, io: CliIo): Promise<Server> {
  const url = flags.url ?? (io.env.CERTBOUND_URL || defaultUrl(io.env));
  const problem = checkHttpsUrl(url);
  if (problem) throw new LateUsageError(`CERTBOUND_URL ${url}: ${problem}`);
  const base = new URL(url);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const caFile = resolveIn(io, flags.ca ?? (io.env.CERTBOUND_CA || join(dataDir(io), 'pki', 'ca.pem')));
  const ca = await readText(caFile, "the server's CA", '--ca, CERTBOUND_CA');
  try {
    new X509Certificate(ca);
  } catch {
    throw new CommandError(`${caFile} (--ca) holds no readable PEM certificate`);
  }
  return { base, ca, caFile };
}

export function resolveIn(io: CliIo, file: string): string {
  return join(file.startsWith('/') ? '' : io.cwd, file);
}

export async function readText(file: string, what: string, source: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CommandError(`cannot read ${what} ${file} (${source}): ${(error as { code?: string }).code ?? (error as Error).message}`, 1, { cause: error });
  }
}

// ---------------------------------------------------------------------------------------------
// The EST exchange

export type EstOperation = 'cacerts' | 'simpleenroll' | 'simplereenroll';

export interface EstCall {
  operation: EstOperation;
  /** base64 PKCS#10 for the enroll operations */
  csrBase64?: string;
  /** HTTP Basic (simpleenroll: client_id and the one-time code) */
  basic?: { user: string; password: string };
  /** the client certificate (leaf then chain) and its key, for simplereenroll */
  identity?: { cert: string; key: string };
}

/** A certs-only answer is a few kilobytes; anything near this is not one. */
const MAX_ANSWER_BYTES = 1024 * 1024;
const TIMEOUT_MS = 30_000;

/** One EST request; the certificates of a 200 certs-only answer, or a CommandError naming the refusal. */
export async function est(server: Server, call: EstCall): Promise<x509.X509Certificate[]> {
  const path = `${server.base.pathname}.well-known/est/${call.operation}`;
  const headers: Record<string, string> = { accept: 'application/pkcs7-mime, application/json' };
  if (call.csrBase64 !== undefined) {
    headers['content-type'] = 'application/pkcs10';
    headers['content-transfer-encoding'] = 'base64';
    headers['content-length'] = String(Buffer.byteLength(call.csrBase64));
  }
  if (call.basic) {
    if (call.basic.user.includes(':')) throw new LateUsageError('--client-id must not contain ":" (HTTP Basic, RFC 7617)');
    headers.authorization = `Basic ${Buffer.from(`${call.basic.user}:${call.basic.password}`, 'utf8').toString('base64')}`;
  }
  const answer = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
    const req = request(server.base, {
      path,
      method: call.csrBase64 === undefined ? 'GET' : 'POST',
      headers,
      ca: server.ca,
      ...(call.identity ? { cert: call.identity.cert, key: call.identity.key } : {}),
      agent: false,
      timeout: TIMEOUT_MS,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', (error) => reject(networkError(server, error)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (error) => reject(networkError(server, error)));
    req.end(call.csrBase64);
  });
  if (answer.status !== 200) throw refusal(call.operation, answer);
  if (!/^application\/pkcs7-mime\b/i.test(answer.type)) {
    throw new CommandError(`${call.operation}: the server answered 200 with ${printable(answer.type || 'no content type')}, not application/pkcs7-mime`);
  }
  return certsOnly(call.operation, answer.text);
}

/** RFC 7030 §4.1.3: base64 of a DER PKCS#7 SignedData holding only certificates. */
export function certsOnly(operation: string, text: string): x509.X509Certificate[] {
  const compact = text.replace(/[\r\n\t ]+/g, '');
  if (compact === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new CommandError(`${operation}: the answer is not base64`);
  let certs: x509.X509Certificates;
  try {
    certs = new x509.X509Certificates(Buffer.from(compact, 'base64'));
  } catch (error) {
    throw new CommandError(`${operation}: the answer is not a PKCS#7 certs-only message (${(error as Error).message})`);
  }
  if (certs.length === 0) throw new CommandError(`${operation}: the answer holds no certificate`);
  return [...certs];
}

function refusal(operation: string, answer: { status: number; type: string; text: string }): CommandError {
  let error: string | undefined;
  let description: string | undefined;
  if (/json/i.test(answer.type)) {
    try {
      const body = JSON.parse(answer.text) as { error?: unknown; error_description?: unknown };
      if (typeof body.error === 'string') error = body.error;
      if (typeof body.error_description === 'string') description = body.error_description;
    } catch { /* not JSON after all: the status alone is reported */ }
  }
  const what = [error, description].filter(Boolean).map((s) => printable(String(s))).join(': ');
  const hint = answer.status === 404 ? ' (is enrollment on? the server needs an issuing CA)' : '';
  return new CommandError(`${operation} refused: ${answer.status}${what ? ` ${what}` : ''}${hint}`);
}

const TLS_VERIFY_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED']);

function networkError(server: Server, error: Error & { code?: string }): CommandError {
  let hint = '';
  if (error.code === 'ECONNREFUSED') hint = ' (is the server running? --url or CERTBOUND_URL names it)';
  else if (error.code !== undefined && TLS_VERIFY_CODES.has(error.code)) hint = ` (the server's certificate does not chain to --ca ${server.caFile})`;
  else if (error.code === 'ERR_TLS_CERT_ALTNAME_INVALID') hint = ` (the server's certificate is not for ${server.base.hostname})`;
  return new CommandError(`cannot reach ${server.base.origin}: ${error.message}${hint}`, 1, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Checking the answer and building the chain file

/**
 * The issued certificate (it must certify our key, else the server answered for someone else)
 * and the chain a client presents after it: the CA certificates from /cacerts up to, not
 * including, a self-signed root.
 */
export async function chainFor(operation: string, issued: x509.X509Certificate[], spki: Buffer, cacerts: x509.X509Certificate[]): Promise<string> {
  const leaf = issued.find((cert) => Buffer.from(cert.publicKey.rawData).equals(spki));
  if (!leaf) throw new CommandError(`${operation}: the answer holds no certificate for the key this command made`);
  const pool = [...issued.filter((c) => c !== leaf), ...cacerts];
  const chain: x509.X509Certificate[] = [leaf];
  for (let cert = leaf; chain.length < 8;) {
    const issuer = await issuerOf(cert, pool);
    if (!issuer || issuer.subject === issuer.issuer) break;
    chain.push(issuer);
    cert = issuer;
  }
  if (chain.length === 1 && leaf.issuer !== leaf.subject && !(await issuerOf(leaf, pool))) {
    throw new CommandError(`${operation}: /cacerts holds no certificate that issued ${printable(leaf.subject)} (its issuer is ${printable(leaf.issuer)})`);
  }
  return chain.map((cert) => cert.toString('pem')).join('\n') + '\n';
}

async function issuerOf(cert: x509.X509Certificate, pool: x509.X509Certificate[]): Promise<x509.X509Certificate | undefined> {
  for (const candidate of pool) {
    if (candidate.subject !== cert.issuer || candidate === cert) continue;
    try {
      if (await cert.verify({ publicKey: candidate, signatureOnly: true })) return candidate;
    } catch { /* a key type WebCrypto cannot verify with: not this one */ }
  }
  return undefined;
}

/** The first certificate of a PEM file (the leaf) and its key, checked to belong together. */
export function readPair(certPem: string, keyPem: string, files: { cert: string; key: string }): { leaf: X509Certificate; key: KeyObject } {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch {
    throw new CommandError(`${files.cert} (--cert) holds no readable PEM certificate`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new CommandError(`${files.key} (--key) holds no readable, unencrypted PEM private key`);
  }
  if (!leaf.checkPrivateKey(key)) throw new CommandError(`the key in ${files.key} (--key) does not belong to the certificate in ${files.cert} (--cert)`);
  return { leaf, key };
}

export const spkiOf = (key: KeyObject): Buffer => createPublicKey(key).export({ type: 'spki', format: 'der' });

// ---------------------------------------------------------------------------------------------
// Files

/**
 * Writes `text` to a new temporary file beside `file` (mode `mode`, exclusive create) and fsyncs
 * it; rename it over `file` with `commit`. Nothing is visible under `file` until then.
 */
export async function stage(file: string, text: string, mode: number): Promise<{ temp: string; commit(): Promise<void>; discard(): Promise<void> }> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(text);
    await handle.chmod(mode); // the umask may have narrowed the mode; never widened: 0600 stays 0600
    await handle.sync();
  } finally {
    await handle.close();
  }
  return {
    temp,
    commit: () => rename(temp, file),
    discard: () => unlink(temp).catch(() => undefined),
  };
}

/** fsync a directory, so the renames in it survive a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
