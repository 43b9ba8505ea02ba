// `certbound doctor`: "why does my certificate fail?" from the partner's side, before production.
// Online (the default) it presents the certificate to the server's GET /mtls/check over mutual
// TLS, so the answer is the server's own (its clock, its client CAs, its revocation answers, the
// client's registration); offline (--offline --trust FILE) it runs the same steps
// (mtls/diagnosis.ts) against a trust store on this machine. Prints each step and, for the first
// failing one, the fix in one sentence; exit 0 when every step passed, 1 when one failed.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CliIo, Command, FlagSpec } from './command.ts';
import { CommandError, EXIT, LateUsageError } from './admin/errors.ts';
import { exchange } from './admin/https.ts';
import { checkHttpsUrl, dataDir, DEFAULT_URL, defaultUrl } from './admin/settings.ts';
import { printable } from './admin/output.ts';
import { diagnose, type Diagnosis } from '../mtls/diagnosis.ts';
import { loadTrustStore } from '../mtls/trust-store.ts';
import { createRevocationChecker } from '../mtls/revocation/index.ts';

const flags = {
  cert: { type: 'string', required: true, help: 'the client certificate to check, PEM (intermediates may follow it in the file)' },
  key: { type: 'string', help: 'its private key, PEM (default: the key in --cert\'s file, else FILE-key.pem beside it, as `certbound pki` writes them)' },
  'client-id': { type: 'string', help: 'also check the certificate against this client\'s registration (online only)' },
  url: { type: 'string', help: `the mutual-TLS listener (default $CERTBOUND_URL, else ${DEFAULT_URL}, 8444 unless set)`, check: checkHttpsUrl },
  ca: { type: 'string', help: "CA that verifies the server's certificate (default $CERTBOUND_CA, else $DATA_DIR/pki/ca.pem)" },
  offline: { type: 'boolean', help: 'do not ask the server: check against --trust on this machine' },
  trust: { type: 'string', help: 'with --offline: the client CA bundle to trust, PEM (the server\'s CLIENT_CA_FILE)' },
  json: { type: 'boolean', help: 'print the diagnosis as JSON' },
} as const satisfies Record<string, FlagSpec>;

const MAX_ANSWER_CHARS = 1_000_000;

export const doctorCommand: Command<typeof flags> = {
  summary: 'check a client certificate step by step, as the token endpoint does (GET /mtls/check, or --offline)',
  flags,
  async run(values, io) {
    try {
      const certFile = resolve(io.cwd, values.cert);
      const certPem = await readText(certFile, 'the certificate', '--cert');
      let diagnosis: Diagnosis;
      if (values.offline) {
        if (values.trust === undefined) throw new LateUsageError('--offline needs --trust FILE: the client CAs to check against');
        if (values['client-id'] !== undefined) throw new LateUsageError('--client-id needs the server\'s registration: drop --offline to check it');
        diagnosis = await offline(certFile, certPem, resolve(io.cwd, values.trust));
      } else {
        if (values.trust !== undefined) throw new LateUsageError('--trust is for --offline; online, the server\'s own client CAs are used');
        diagnosis = await online(values, io, certFile, certPem);
      }
      io.stdout(values.json ? `${JSON.stringify(diagnosis, null, 2)}\n` : report(diagnosis));
      return diagnosis.ok ? EXIT.ok : EXIT.failed;
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      io.stderr(`certbound: ${printable(error.message)}\n`);
      return error.exitCode;
    }
  },
};

async function readText(file: string, what: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CommandError(`cannot read ${what} ${file} (${flag}): ${(error as { code?: string }).code ?? (error as Error).message}`, EXIT.failed, { cause: error });
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

async function offline(certFile: string, certPem: string, trustFile: string): Promise<Diagnosis> {
  const blocks = certPem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new CommandError(`${certFile} (--cert) holds no PEM certificate`);
  const certs = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new CommandError(`certificate ${i + 1} in ${certFile} (--cert) could not be parsed: ${(error as Error).message}`);
    }
  });
  let trustStore;
  try {
    trustStore = loadTrustStore(await readText(trustFile, 'the trust store', '--trust'), trustFile);
  } catch (error) {
    if (error instanceof CommandError) throw error;
    throw new CommandError(`--trust ${(error as Error).message}`);
  }
  // Revocation is asked as the server would (soft: an unreachable responder is reported, not fatal),
  // and only for a chain that validated against --trust.
  const revocation = createRevocationChecker({ mode: 'soft' });
  try {
    return await diagnose({ presented: { leaf: certs[0], chain: certs.slice(1) }, trustStore, revocation });
  } finally {
    revocation.close();
  }
}

async function online(values: { key?: string | undefined; url?: string | undefined; ca?: string | undefined; 'client-id'?: string | undefined }, io: CliIo, certFile: string, certPem: string): Promise<Diagnosis> {
  const env = io.env;
  const url = values.url ?? (env.CERTBOUND_URL || defaultUrl(env));
  const problem = checkHttpsUrl(url);
  if (problem) throw new LateUsageError(`CERTBOUND_URL ${url}: ${problem}`);
  const base = new URL(url);
  const caFile = resolve(io.cwd, values.ca ?? (env.CERTBOUND_CA || join(dataDir(io), 'pki', 'ca.pem')));
  const ca = await readText(caFile, "the server's CA", '--ca, CERTBOUND_CA');
  let keyFile: string;
  let key: string;
  if (values.key !== undefined) {
    keyFile = resolve(io.cwd, values.key);
    key = await readText(keyFile, 'the key', '--key');
  } else if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(certPem)) {
    keyFile = certFile;
    key = certPem;
  } else {
    keyFile = certFile.replace(/(\.pem)?$/, '-key.pem');
    key = await readText(keyFile, 'the key', '--key (default: beside --cert)');
  }
  checkPair(certFile, certPem, keyFile, key);
  const path = `${base.pathname.replace(/\/$/, '')}/mtls/check${values['client-id'] === undefined ? '' : `?client_id=${encodeURIComponent(values['client-id'])}`}`;
  let answer;
  try {
    answer = await exchange({ cert: certPem, key, ca, files: { cert: certFile, key: keyFile, ca: caFile } }, { method: 'GET', origin: base, path });
  } catch (error) {
    if (error instanceof CommandError) throw error;
    // The client's own TLS stack refused to load the pair (a key that is not the certificate's).
    throw new CommandError(`cannot present ${certFile} with ${keyFile}: ${(error as Error).message}`, EXIT.failed, { cause: error });
  }
  // A diagnosis, or an OAuth-style error body; anything that is not a JSON object counts as no body.
  let body: { ok?: unknown; steps?: unknown; error?: unknown; error_description?: unknown } | undefined;
  try {
    const parsed: unknown = JSON.parse(answer.text.slice(0, MAX_ANSWER_CHARS));
    body = parsed !== null && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    body = undefined;
  }
  if (answer.status === 200 && body && typeof body.ok === 'boolean' && Array.isArray(body.steps)) return body as Diagnosis;
  const retry = answer.headers['retry-after'];
  const why = typeof body?.error_description === 'string' ? body.error_description : answer.text.slice(0, 200);
  if (answer.status === 404) throw new CommandError(`${base.origin} has no /mtls/check (${why}): --url must name the mutual-TLS listener of a certbound server`);
  const error = typeof body?.error === 'string' && body.error ? ` ${body.error}` : '';
  throw new CommandError(`${base.origin}/mtls/check answered ${answer.status}${error}: ${why}${retry ? ` (retry after ${String(retry)} s)` : ''}`);
}

/** A clear message here rather than an OpenSSL error from the middle of the handshake. */
function checkPair(certFile: string, certPem: string, keyFile: string, keyPem: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (error) {
    throw new CommandError(`${certFile} (--cert) holds no readable PEM certificate: ${(error as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    throw new CommandError(`${keyFile} (--key) holds no readable, unencrypted PEM private key`);
  }
  if (!matches) throw new CommandError(`the key in ${keyFile} (--key) does not belong to the certificate in ${certFile} (--cert)`);
}

const MARK = { true: 'ok  ', false: 'FAIL', null: '--  ' } as const;

/** One line per step, then the fix for the first failure. */
export function report(d: Diagnosis): string {
  const lines: string[] = [];
  const c = d.certificate;
  if (c) lines.push(`certificate ${c.subject || '(empty subject)'}  serial ${c.serial}  x5t#S256 ${c['x5t#S256']}`, `  issuer ${c.issuer}, valid ${c.not_before} to ${c.not_after}`);
  for (const step of d.steps) lines.push(`${MARK[String(step.ok) as keyof typeof MARK]} ${step.check.padEnd(13)}${printable(step.detail)}`);
  if (d.first_failure) lines.push('', `${d.first_failure.check} failed: ${printable(d.first_failure.fix)}`);
  else lines.push('', 'every step passed');
  return `${lines.join('\n')}\n`;
}
