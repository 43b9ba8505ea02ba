// Where the admin commands connect and with which certificate: the flags every admin command
// shares, their environment variables, and the dev defaults (DATA_DIR/pki, written by
// `certbound pki init` or the server's first start). Everything is resolved and read once, up
// front, so a missing or mismatched file is reported before anything goes on the wire.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CliIo, FlagSpec } from '../command.ts';
import { CommandError, LateUsageError } from './errors.ts';
import type { TlsMaterial } from './https.ts';

/** The dev server's mutual-TLS listener: `npm start` binds it to MTLS_PORT (8444 unless set). */
export const DEFAULT_URL = 'https://localhost:$MTLS_PORT';
export const defaultUrl = (env: CliIo['env']) => `https://localhost:${env.MTLS_PORT?.trim() || '8444'}`;
const DEFAULT_ADMIN_CLIENT_ID = 'admin';

export const connectionFlags = {
  url: { type: 'string', help: `the mutual-TLS listener (default $CERTBOUND_URL, else ${DEFAULT_URL}, 8444 unless set)`, check: checkHttpsUrl },
  cert: { type: 'string', help: 'admin client certificate, PEM (default $CERTBOUND_ADMIN_CERT, else $DATA_DIR/pki/admin.pem)' },
  key: { type: 'string', help: 'its private key, PEM (default $CERTBOUND_ADMIN_KEY, else $DATA_DIR/pki/admin-key.pem)' },
  ca: { type: 'string', help: "CA that verifies the server's certificate (default $CERTBOUND_CA, else $DATA_DIR/pki/ca.pem)" },
  'admin-client': { type: 'string', help: `the admin's client_id (default $CERTBOUND_ADMIN_CLIENT_ID, else ${DEFAULT_ADMIN_CLIENT_ID})` },
  json: { type: 'boolean', help: 'print the API\'s JSON instead of a table or summary' },
} as const satisfies Record<string, FlagSpec>;

export interface ConnectionFlags {
  url?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  ca?: string | undefined;
  'admin-client'?: string | undefined;
}

export interface Settings {
  /** the mutual-TLS listener's base, ending in "/" */
  base: URL;
  adminClientId: string;
  tls: TlsMaterial;
}

export function checkHttpsUrl(value: string): string | undefined {
  const url = URL.parse(value);
  if (!url || url.protocol !== 'https:') return 'must be an https:// URL (the admin API is served over mutual TLS only)';
  if (url.search || url.hash || url.username || url.password) return 'must not carry a query, fragment or credentials';
  return undefined;
}

export function dataDir(io: CliIo): string {
  return io.env.DATA_DIR || '.data';
}

export async function settingsOf(flags: ConnectionFlags, io: CliIo): Promise<Settings> {
  const env = io.env;
  const url = flags.url ?? (env.CERTBOUND_URL || defaultUrl(env));
  const problem = checkHttpsUrl(url);
  if (problem) throw new LateUsageError(`CERTBOUND_URL ${url}: ${problem}`);
  const base = new URL(url);
  if (!base.pathname.endsWith('/')) base.pathname += '/';

  const pki = join(dataDir(io), 'pki');
  const files = {
    cert: resolve(io.cwd, flags.cert ?? (env.CERTBOUND_ADMIN_CERT || join(pki, 'admin.pem'))),
    key: resolve(io.cwd, flags.key ?? (env.CERTBOUND_ADMIN_KEY || join(pki, 'admin-key.pem'))),
    ca: resolve(io.cwd, flags.ca ?? (env.CERTBOUND_CA || join(pki, 'ca.pem'))),
  };
  const [cert, key, ca] = await Promise.all([
    readPem(files.cert, 'the admin certificate', '--cert, CERTBOUND_ADMIN_CERT'),
    readPem(files.key, "the admin certificate's key", '--key, CERTBOUND_ADMIN_KEY'),
    readPem(files.ca, "the server's CA", '--ca, CERTBOUND_CA'),
  ]);
  checkPair(files, cert, key, ca);
  return { base, adminClientId: flags['admin-client'] ?? (env.CERTBOUND_ADMIN_CLIENT_ID || DEFAULT_ADMIN_CLIENT_ID), tls: { cert, key, ca, files } };
}

async function readPem(file: string, what: string, source: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const dev = code === 'ENOENT' ? '; "certbound pki init" creates the dev PKI' : '';
    throw new CommandError(`cannot read ${what} ${file} (${source}): ${code ?? (error as Error).message}${dev}`, 1, { cause: error });
  }
}

/** Clear messages here rather than an OpenSSL error from the middle of the TLS handshake. */
function checkPair(files: TlsMaterial['files'], certPem: string, keyPem: string, caPem: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new CommandError(`${files.cert} (--cert) holds no readable PEM certificate`);
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
      throw new CommandError(`the key in ${files.key} (--key) does not belong to the certificate in ${files.cert} (--cert)`);
    }
  } catch (error) {
    if (error instanceof CommandError) throw error;
    throw new CommandError(`${files.key} (--key) holds no readable, unencrypted PEM private key`);
  }
  try {
    new X509Certificate(caPem);
  } catch {
    throw new CommandError(`${files.ca} (--ca) holds no readable PEM certificate`);
  }
}
