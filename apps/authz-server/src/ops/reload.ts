// Hot reload of the TLS material (issue 12 item 3), so a rotation needs no restart: the server
// certificate and key (TLS_CERT_FILE/TLS_KEY_FILE, or the dev PKI's), the client CAs
// (CLIENT_CA_FILE) and CLIENT_CRL_FILE are read again on SIGHUP and when a file changes, checked,
// and swapped in without dropping a connection; new handshakes and new verdicts use them at once.
// Changes are found by polling (stat every TLS_RELOAD_INTERVAL_MS, default 1 s, then a content
// hash: fs.watch alone misses a file replaced by rename and network mounts), and a change is read
// only once it has held still for one more poll, so a writer caught between the certificate and
// its key is not reported.
// A file that cannot be read, is empty, does not parse, or a key that does not match its
// certificate keeps the old material and logs one `tls_reload_failed` line (the variable, the
// file, why); what was applied logs one `tls_reloaded` line. Other parts (metrics, expiry notices)
// follow the material through onReloaded().
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../log.ts';
import { publicTlsOptions, type ServerTlsMaterial } from '../http/tls-options.ts';
import { describeCert, loadTrustStore, type LiveTrustStore, type TrustStore } from '../mtls/trust-store.ts';
import { parseCrlFile, type CrlFileContents, type CrlFileSource } from '../mtls/revocation/crl-file.ts';
import type { ReloadableVerdictCache } from '../mtls/connection-verdict.ts';

export type TlsVariable = 'TLS_CERT_FILE' | 'TLS_KEY_FILE' | 'CLIENT_CA_FILE' | 'CLIENT_CRL_FILE';

/** Where the material lives: the configured files, or the dev PKI's. */
export interface TlsFiles {
  cert: string;
  key: string;
  clientCa: string;
  crl?: string | undefined;
}

/** The material in force. */
export interface TlsMaterial extends ServerTlsMaterial {
  /** the server's certificate: the first of TLS_CERT_FILE (its notAfter is what expires) */
  readonly serverCertificate: X509Certificate;
  /** CLIENT_CA_FILE as parsed: every certificate in it is a trust anchor */
  readonly trustStore: TrustStore;
  /** 0 at start, +1 at every reload that changed something */
  readonly generation: number;
}

/** What other parts may subscribe to (metrics: the server certificate's and the CAs' notAfter). */
export interface TlsMaterialSource {
  current(): TlsMaterial;
  /** `listener` runs after every reload that changed something; returns the material in force now */
  onReloaded(listener: (material: TlsMaterial) => void): TlsMaterial;
}

export interface TlsReloadFailure {
  readonly variable: TlsVariable;
  readonly file: string;
  readonly reason: string;
}

export interface ReloadOutcome {
  /** the variables whose new contents were applied */
  readonly changed: readonly TlsVariable[];
  /** the ones that were refused (their old material stays) */
  readonly failed: readonly TlsReloadFailure[];
}

export type ReloadTrigger = 'SIGHUP' | 'file' | 'request';

export interface TlsReloader extends TlsMaterialSource {
  /** reads every file now; reloads run one at a time */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>;
  /** stops the polling and drops the listeners */
  close(): void;
}

/** What a reload changes. */
export interface TlsReloadTargets {
  /** the two listeners (http/listeners.ts) */
  listeners: { reload(material: ServerTlsMaterial): void };
  /** the trust store every verdict and the admin API read */
  trustStore: LiveTrustStore;
  /** forgotten when CLIENT_CRL_FILE changes (a CA change is noticed by the cache itself) */
  verdicts?: Pick<ReloadableVerdictCache, 'invalidate'>;
  /** CLIENT_CRL_FILE's source in the revocation checker */
  crl?: Pick<CrlFileSource, 'use'>;
}

export class TlsMaterialError extends Error implements TlsReloadFailure {
  readonly variable: TlsVariable;
  readonly file: string;
  readonly reason: string;
  constructor(variable: TlsVariable, file: string, reason: string) {
    super(`${file} ${reason}`);
    this.name = 'TlsMaterialError';
    this.variable = variable;
    this.file = file;
    this.reason = reason;
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/;

const hashOf = (text: string) => createHash('sha256').update(text).digest('base64url');

async function readText(variable: TlsVariable, file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TlsMaterialError(variable, file, `cannot be read (${code ?? (err as Error).message})`);
  }
  if (text.trim() === '') throw new TlsMaterialError(variable, file, 'is empty');
  return text;
}

/**
 * The server certificate and key, checked as OpenSSL will use them. `blame` is the file a
 * mismatch is reported against: the one that changed (the key when both did).
 */
export function checkServerIdentity(
  files: Pick<TlsFiles, 'cert' | 'key'>, cert: string, key: string, blame: 'TLS_CERT_FILE' | 'TLS_KEY_FILE' = 'TLS_KEY_FILE',
): X509Certificate {
  const pem = PEM_CERTIFICATE.exec(cert)?.[0];
  if (pem === undefined) throw new TlsMaterialError('TLS_CERT_FILE', files.cert, 'holds no -----BEGIN CERTIFICATE----- block');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (err) {
    throw new TlsMaterialError('TLS_CERT_FILE', files.cert, `holds a certificate that cannot be parsed (${(err as Error).message})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    // Node's message names the decoder's failure, never the key's bytes.
    throw new TlsMaterialError('TLS_KEY_FILE', files.key, `holds no usable private key (${(err as Error).message})`);
  }
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(privateKey);
  } catch {
    matches = false;
  }
  if (!matches) {
    if (blame === 'TLS_KEY_FILE') {
      throw new TlsMaterialError(blame, files.key, `holds a private key that does not match the certificate in TLS_CERT_FILE ${files.cert}`);
    }
    throw new TlsMaterialError(blame, files.cert, `holds a certificate (${describeCert(certificate)}) that does not match the key in TLS_KEY_FILE ${files.key}`);
  }
  try {
    createSecureContext(publicTlsOptions({ cert, key, clientCa: '' }));
  } catch (err) {
    throw new TlsMaterialError('TLS_CERT_FILE', files.cert, `is refused by OpenSSL (${(err as Error).message})`);
  }
  return certificate;
}

export function checkClientCas(file: string, pem: string): TrustStore {
  try {
    return loadTrustStore(pem, file);
  } catch (err) {
    // loadTrustStore's messages start with their source
    throw new TlsMaterialError('CLIENT_CA_FILE', file, (err as Error).message.replace(`${file}: `, ''));
  }
}

export function checkCrlFile(file: string, pem: string): CrlFileContents {
  try {
    return parseCrlFile(Buffer.from(pem, 'utf8'));
  } catch (err) {
    throw new TlsMaterialError('CLIENT_CRL_FILE', file, (err as Error).message);
  }
}

/** The material at start: the same checks as a reload, but a failure stops the start (main.ts). */
export async function loadTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key, clientCa] = await Promise.all([
    readText('TLS_CERT_FILE', files.cert), readText('TLS_KEY_FILE', files.key), readText('CLIENT_CA_FILE', files.clientCa),
  ]);
  const serverCertificate = checkServerIdentity(files, cert, key);
  return { cert, key, clientCa, serverCertificate, trustStore: checkClientCas(files.clientCa, clientCa), generation: 0 };
}

/** What the watcher compares: one stat signature per file ("ino:size:mtime:ctime" or the error code). */
async function signatureOf(paths: readonly string[]): Promise<string> {
  const parts = await Promise.all(paths.map((path) => stat(path).then(
    (s) => `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`,
    (err: NodeJS.ErrnoException) => `error:${err.code ?? 'unknown'}`,
  )));
  return parts.join('|');
}

export interface TlsReloadOptions {
  files: TlsFiles;
  initial: TlsMaterial;
  targets: TlsReloadTargets;
  logger: Pick<Logger, 'info' | 'error' | 'debug'>;
  /** how often the files are looked at; default 1000 ms (a change is applied within two polls); null: never (SIGHUP only) */
  intervalMs?: number | null;
}

type Group = 'identity' | 'clientCa' | 'crl';

/** Watches `files` and applies their changes to `targets`; SIGHUP is wired by the caller (main.ts). */
export function watchTlsMaterial(options: TlsReloadOptions): TlsReloader {
  const { files, targets, logger, intervalMs = 1000 } = options;
  let material = options.initial;
  const listeners = new Set<(material: TlsMaterial) => void>();
  // The content in force, by hash: a poll that sees a touched but unchanged file changes nothing.
  const applied: Record<'cert' | 'key' | 'clientCa' | 'crl', string | undefined> = {
    cert: hashOf(material.cert), key: hashOf(material.key), clientCa: hashOf(material.clientCa), crl: undefined,
  };
  // A refusal is logged once per version of the files: the watcher does not repeat it every second.
  const lastFailure = new Map<Group, string>();
  let queue: Promise<unknown> = Promise.resolve();

  const read = async (variable: TlsVariable, file: string): Promise<{ text?: string; hash: string; failure?: TlsMaterialError }> => {
    try {
      const text = await readText(variable, file);
      return { text, hash: hashOf(text) };
    } catch (err) {
      return { failure: err as TlsMaterialError, hash: `failed:${(err as TlsMaterialError).reason}` };
    }
  };

  async function reloadNow(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const [cert, key, clientCa, crl] = await Promise.all([
      read('TLS_CERT_FILE', files.cert), read('TLS_KEY_FILE', files.key), read('CLIENT_CA_FILE', files.clientCa),
      files.crl === undefined ? undefined : read('CLIENT_CRL_FILE', files.crl),
    ]);
    const changed: TlsVariable[] = [];
    const failed: TlsMaterialError[] = [];
    const refuse = (group: Group, version: string, error: TlsMaterialError) => {
      failed.push(error);
      if (trigger === 'file' && lastFailure.get(group) === version) return;
      lastFailure.set(group, version);
      logger.error({ event: 'tls_reload_failed', trigger, variable: error.variable, file: error.file, reason: error.reason },
        `${error.variable} ${error.file} ${error.reason}: the material in force is kept`);
    };
    const attempt = <T>(group: Group, version: string, check: () => T): T | undefined => {
      try {
        const result = check();
        lastFailure.delete(group);
        return result;
      } catch (err) {
        if (!(err instanceof TlsMaterialError)) throw err;
        refuse(group, version, err);
        return undefined;
      }
    };

    let next = material;
    const identityVersion = `${cert.hash}.${key.hash}`;
    if (cert.failure ?? key.failure) {
      refuse('identity', identityVersion, (cert.failure ?? key.failure)!);
    } else if (cert.hash === applied.cert && key.hash === applied.key) {
      lastFailure.delete('identity'); // back to what is in force: a later bad version is news again
    } else {
      const blame = key.hash !== applied.key ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE';
      const serverCertificate = attempt('identity', identityVersion, () => {
        const checked = checkServerIdentity(files, cert.text!, key.text!, blame);
        try {
          targets.listeners.reload({ cert: cert.text!, key: key.text!, clientCa: next.clientCa });
        } catch (err) {
          throw new TlsMaterialError('TLS_CERT_FILE', files.cert, `is refused by OpenSSL (${(err as Error).message})`);
        }
        return checked;
      });
      if (serverCertificate) {
        if (cert.hash !== applied.cert) changed.push('TLS_CERT_FILE');
        if (key.hash !== applied.key) changed.push('TLS_KEY_FILE');
        applied.cert = cert.hash;
        applied.key = key.hash;
        next = { ...next, cert: cert.text!, key: key.text!, serverCertificate };
      }
    }

    if (clientCa.failure) {
      refuse('clientCa', clientCa.hash, clientCa.failure);
    } else if (clientCa.hash === applied.clientCa) {
      lastFailure.delete('clientCa');
    } else {
      const trustStore = attempt('clientCa', clientCa.hash, () => checkClientCas(files.clientCa, clientCa.text!));
      if (trustStore) {
        // New verdicts validate against it from now on; verdicts of the old generation are decided again.
        targets.trustStore.replace(trustStore);
        applied.clientCa = clientCa.hash;
        changed.push('CLIENT_CA_FILE');
        next = { ...next, clientCa: clientCa.text!, trustStore };
      }
    }

    if (crl && files.crl !== undefined) {
      if (crl.failure) {
        refuse('crl', crl.hash, crl.failure);
      } else if (crl.hash === applied.crl) {
        lastFailure.delete('crl');
      } else {
        const contents = attempt('crl', crl.hash, () => checkCrlFile(files.crl!, crl.text!));
        if (contents) {
          targets.crl?.use(contents);
          // The first reading (at the first poll) is the one the server started with, not a change.
          if (applied.crl !== undefined) {
            // A verdict may rest on the old list (a certificate revoked just now): decide again.
            targets.verdicts?.invalidate();
            changed.push('CLIENT_CRL_FILE');
          }
          applied.crl = crl.hash;
        }
      }
    }

    if (changed.length > 0) {
      material = { ...next, generation: material.generation + 1 };
      logger.info({
        event: 'tls_reloaded',
        trigger,
        changed,
        generation: material.generation,
        server_certificate_not_after: material.serverCertificate.validToDate.toISOString(),
        server_certificate_sha256: material.serverCertificate.fingerprint256,
        client_cas: material.trustStore.size,
      }, `TLS material reloaded (${changed.join(', ')})`);
      for (const listener of listeners) {
        try {
          listener(material);
        } catch (err) {
          logger.error({ event: 'tls_reload_listener_failed', err }, 'a TLS reload listener threw');
        }
      }
    } else if (failed.length === 0) {
      // An operator who sent SIGHUP hears that it arrived; a touched file is not news.
      (trigger === 'file' ? logger.debug.bind(logger) : logger.info.bind(logger))({
        event: 'tls_reloaded', trigger, changed, generation: material.generation,
        server_certificate_not_after: material.serverCertificate.validToDate.toISOString(),
        server_certificate_sha256: material.serverCertificate.fingerprint256,
        client_cas: material.trustStore.size,
      }, 'TLS material unchanged');
    }
    return { changed, failed: failed.map(({ variable, file, reason }) => ({ variable, file, reason })) };
  }

  const reload = (trigger: ReloadTrigger): Promise<ReloadOutcome> => {
    const run = queue.then(() => reloadNow(trigger));
    queue = run.catch(() => undefined);
    return run;
  };

  const paths = [files.cert, files.key, files.clientCa, ...(files.crl === undefined ? [] : [files.crl])];
  let seen: string | undefined;
  let settling: string | undefined;
  let polling = false;
  let closed = false;
  const poll = async () => {
    if (polling || closed) return;
    polling = true;
    try {
      const now = await signatureOf(paths);
      if (seen === undefined) {
        // First look: a file replaced between the start's read and now is applied.
        seen = now;
        await reload('file');
      } else if (now === seen) {
        settling = undefined;
      } else if (settling !== now) {
        settling = now; // changed: apply once it holds still for one more poll
      } else {
        seen = now;
        settling = undefined;
        await reload('file');
      }
    } catch (err) {
      logger.error({ event: 'tls_reload_failed', trigger: 'file', err }, 'the TLS material watcher failed');
    } finally {
      polling = false;
    }
  };
  void poll();
  const timer = intervalMs === null ? undefined : setInterval(() => void poll(), intervalMs);
  timer?.unref();

  return {
    current: () => material,
    onReloaded(listener) {
      listeners.add(listener);
      return material;
    },
    reload,
    close() {
      closed = true;
      clearInterval(timer);
      listeners.clear();
    },
  };
}
