// Mutual TLS to PostgreSQL and Redis (issue 14 item 4): the CA, certificate and key files a
// store connection presents and verifies with, read again for every new connection once they
// change on disk (so a rotation reaches new connections without a restart, as ops/reload.ts does
// for the listeners), and the store's refusal of a handshake turned into a message naming the
// file that is wrong. The server's certificate is always verified (chain to the CA file and host
// name: verify-full); no path turns that off.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { ConfigError, type StoreTlsFiles } from '../config.ts';

export type { StoreTlsFiles } from '../config.ts';

/** Which store's variables: DATABASE_SSL_* or REDIS_TLS_*. */
export type StoreTlsPrefix = 'DATABASE_SSL' | 'REDIS_TLS';

/** The TLS options handed to tls.connect; `ca`, `cert` and `key` are read at each connection. */
export interface StoreTlsOptions {
  readonly rejectUnauthorized: true;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface StoreTls {
  /** Getters: pg and ioredis copy them into tls.connect's options for each new connection. */
  readonly options: StoreTlsOptions;
  /** Re-reads the files now (SIGHUP); a change that does not check out keeps the old material. */
  refresh(): void;
  /** The store's refusal of a handshake or of a connection, as a ConfigError naming the file; else undefined. */
  explain(err: unknown): ConfigError | undefined;
}

interface Material {
  ca?: string;
  cert?: string;
  key?: string;
  /** stat signature of the files this material was read from */
  stamp: string;
}

const variable = (prefix: StoreTlsPrefix, which: 'CA' | 'CERT' | 'KEY') => `${prefix}_${which}_FILE`;

function stampOf(files: StoreTlsFiles): string {
  return [files.caFile, files.certFile, files.keyFile]
    .map((file) => {
      if (file === undefined) return '-';
      try {
        const s = statSync(file);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

function readMaterial(prefix: StoreTlsPrefix, files: StoreTlsFiles): Material {
  const stamp = stampOf(files);
  const read = (which: 'CA' | 'CERT' | 'KEY', file: string | undefined): string | undefined => {
    if (file === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(variable(prefix, which), `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (text.trim() === '') throw new ConfigError(variable(prefix, which), `${file} is empty`);
    return text;
  };
  const ca = read('CA', files.caFile);
  const cert = read('CERT', files.certFile);
  const key = read('KEY', files.keyFile);
  if (ca !== undefined) certificateOf(variable(prefix, 'CA'), files.caFile ?? '', ca);
  if (cert !== undefined && key !== undefined) {
    const leaf = certificateOf(variable(prefix, 'CERT'), files.certFile ?? '', cert);
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch (err) {
      throw new ConfigError(variable(prefix, 'KEY'), `${files.keyFile} holds no PEM private key (${(err as Error).message})`);
    }
    if (!leaf.checkPrivateKey(privateKey)) {
      throw new ConfigError(variable(prefix, 'KEY'), `${files.keyFile} is not the key of the certificate in ${variable(prefix, 'CERT')} (${files.certFile})`);
    }
  }
  return { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }), stamp };
}

function certificateOf(name: string, file: string, pem: string): X509Certificate {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (block === undefined) throw new ConfigError(name, `${file} holds no -----BEGIN CERTIFICATE----- block`);
  try {
    return new X509Certificate(block);
  } catch (err) {
    throw new ConfigError(name, `${file} holds a certificate that does not parse (${(err as Error).message})`);
  }
}

/** True when the store's TLS is configured at all (any of the three files). */
export function storeTlsConfigured(files: StoreTlsFiles | undefined): files is StoreTlsFiles {
  return files !== undefined && (files.caFile !== undefined || files.certFile !== undefined || files.keyFile !== undefined);
}

/**
 * Reads and checks the files now (a ConfigError naming the variable when one is unreadable, does
 * not parse, or the key is not the certificate's); afterwards each new connection re-reads them
 * when their stat changed, keeping the old material (and telling `onProblem` once per change)
 * when the new files do not check out, e.g. caught between writing the certificate and the key.
 */
export function loadStoreTls(prefix: StoreTlsPrefix, files: StoreTlsFiles, onProblem: (err: Error) => void = () => undefined): StoreTls {
  let material = readMaterial(prefix, files);
  let refusedStamp: string | undefined;

  function current(): Material {
    const stamp = stampOf(files);
    if (stamp === material.stamp || stamp === refusedStamp) return material;
    try {
      material = readMaterial(prefix, files);
      refusedStamp = undefined;
    } catch (err) {
      refusedStamp = stamp;
      onProblem(err as Error);
    }
    return material;
  }

  const base: StoreTlsOptions = { rejectUnauthorized: true };
  const options = Object.defineProperties(base, {
    // configurable: pg redefines `key` as non-enumerable (so it stays out of logs); the getter stays.
    ca: { enumerable: files.caFile !== undefined, configurable: true, get: () => current().ca },
    cert: { enumerable: files.certFile !== undefined, configurable: true, get: () => current().cert },
    key: { enumerable: files.keyFile !== undefined, configurable: true, get: () => current().key },
  });

  return {
    options,
    refresh: () => void current(),
    explain: (err) => explainStoreTlsFailure(prefix, files, err),
  };
}

const CLIENT_CERT_REFUSED = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
]);

const SERVER_CERT_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

/**
 * Why a TLS connection to host:port with `options` is refused, as the server says it: a handshake
 * that writes nothing and waits up to `waitMs` for the server's alert. Under TLS 1.3 the server
 * checks the client certificate after the client's handshake has finished, so a client that
 * writes at once (ioredis) often sees only a reset; this probe sees the alert itself. Resolves
 * undefined when the server kept the connection open.
 */
export async function probeTlsRefusal(host: string, port: number, options: StoreTlsOptions, waitMs = 1_000): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ ...options, host, port, ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }) });
    const done = (err: Error | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(err);
    };
    const timer = setTimeout(() => done(undefined), waitMs);
    socket.once('error', (err: Error) => done(err));
    socket.once('close', () => done(undefined));
  });
}

/** Walks an error, its causes and an AggregateError's members (ioredis and pg wrap them). */
function* errorsIn(err: unknown, depth = 0): Generator<Error & { code?: unknown }> {
  if (!(err instanceof Error) || depth > 5) return;
  yield err;
  if (err instanceof AggregateError) for (const inner of err.errors) yield* errorsIn(inner, depth + 1);
  yield* errorsIn(err.cause, depth + 1);
}

/**
 * The handshake failures that are a configuration problem, named by the file to fix: the store
 * refused our certificate (…_CERT_FILE), or the store's certificate does not chain to …_CA_FILE
 * or does not name the host connected to. Anything else (refused, timed out) is undefined.
 */
export function explainStoreTlsFailure(prefix: StoreTlsPrefix, files: StoreTlsFiles, err: unknown): ConfigError | undefined {
  for (const e of errorsIn(err)) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (CLIENT_CERT_REFUSED.has(code) || /connection requires a valid client certificate|certificate authentication failed/i.test(e.message)) {
      const what = files.certFile === undefined ? `no client certificate was presented: set ${variable(prefix, 'CERT')} and ${variable(prefix, 'KEY')}` : files.certFile;
      return new ConfigError(variable(prefix, 'CERT'), `the server refused the client certificate (${what}: ${e.message})`);
    }
    if (SERVER_CERT_UNTRUSTED.has(code)) {
      return new ConfigError(variable(prefix, 'CA'), `the server's certificate was not accepted (${files.caFile ?? 'system CAs'}: ${e.message})`);
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new ConfigError(variable(prefix, 'CA'), `the server's certificate does not name the host connected to (${e.message}); connect by a name the certificate holds`);
    }
  }
  return undefined;
}
