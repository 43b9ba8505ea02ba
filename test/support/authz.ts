// Starts the authorization server in this process on ephemeral ports with real TLS, with
// certificates made at test time, on embedded storage or — when TEST_DATABASE_URL /
// TEST_REDIS_URL are set — on real PostgreSQL (a fresh schema per server) and Redis.
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig } from '../../apps/authz-server/src/config.ts';
import { createLogger } from '../../apps/authz-server/src/log.ts';
import { startAuthzServer, type AuthzServer } from '../../apps/authz-server/src/main.ts';
import { upsertClient } from '../../apps/authz-server/src/storage/postgres/clients.ts';
import { listResourceServers, upsertResourceServer } from '../../apps/authz-server/src/storage/postgres/resource-servers.ts';
import type { SqlClient } from '../../apps/authz-server/src/storage/sql.ts';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { freePort, https, type HttpsAnswer, type TlsIdentity } from './https.ts';
import type { LogLine } from './json-answer.ts';

export interface TestPki {
  /** Trusts the server's TLS certificate. */
  serverCa: IssuedCertificate;
  server: IssuedCertificate;
  /** The client CA the authorization server trusts. */
  clientRoot: IssuedCertificate;
  /** The admin client's certificate (issued by clientRoot); ADMIN_SUBJECT_DN names its subject. */
  admin: IssuedCertificate;
}

export async function makeTestPki(): Promise<TestPki> {
  const serverCa = await issueCertificate({ subject: 'CN=certbound test server CA', ca: true, days: 2 });
  const server = await issueCertificate({
    subject: 'CN=localhost', issuer: serverCa, sanDns: ['localhost'], sanIp: ['127.0.0.1', '::1'], extKeyUsage: ['serverAuth'], days: 2,
  });
  const clientRoot = await issueCertificate({ subject: 'CN=certbound test client root,O=certbound tests', ca: true, days: 30 });
  const admin = await issueCertificate({ subject: 'CN=certbound test admin,O=certbound tests', issuer: clientRoot, days: 5 });
  return { serverCa, server, clientRoot, admin };
}

export interface TestAuthz {
  server: AuthzServer;
  /** PEM that verifies the server's TLS certificate. */
  ca: string;
  publicUrl: string;
  mtlsUrl: string;
  issuer: string;
  logs: LogLine[];
  /** The environment the server was configured from (shareStoresWith reuses its stores and keys). */
  env: Record<string, string>;
  /** The bootstrapped `admin` client: its certificate, a token, and calls to /admin/v1. */
  admin: TestAdmin;
  /**
   * Writes the client straight into the store (no admin validation). Metadata in the old form
   * (`scope` + `default_resource`, no `resources`) is stored as db/migrations/0004 moves it.
   */
  register(metadata: Record<string, unknown>): Promise<unknown>;
  registerResource(rs: { identifier: string; scopes: string[]; token_format?: 'jwt' | 'opaque'; sender_constraint_required?: boolean; access_token_ttl?: number | null }): Promise<unknown>;
  close(): Promise<void>;
}

export interface AdminRequestOptions {
  /** default: a cached admin token; null: no Authorization header */
  token?: string | null;
  /** default: the admin certificate; null: none */
  identity?: TlsIdentity | null;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export interface TestAdmin {
  identity: TlsIdentity;
  /** client_credentials at the mutual-TLS token endpoint; default client_id=admin, scope=admin, the admin certificate. */
  token(options?: { clientId?: string; identity?: TlsIdentity; scope?: string }): Promise<string>;
  /** `path` relative to /admin/v1. */
  request(method: string, path: string, options?: AdminRequestOptions): Promise<HttpsAnswer>;
}

export const realStores = { database: process.env.TEST_DATABASE_URL, redis: process.env.TEST_REDIS_URL };

export async function startTestAuthz(options: {
  pki: TestPki;
  /** PEM bundle of client CAs; defaults to the test client root. */
  clientCaPem?: string;
  env?: Record<string, string>;
  storage?: 'embedded' | 'real';
  /** A second instance of `other`'s deployment: same PostgreSQL schema, Redis and key-encryption key. */
  shareStoresWith?: TestAuthz;
}): Promise<TestAuthz> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-test-'));
  const { pki } = options;
  await writeFile(join(dir, 'server.pem'), pki.server.certPem);
  await writeFile(join(dir, 'server-key.pem'), pki.server.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'client-ca.pem'), options.clientCaPem ?? pki.clientRoot.certPem);
  // freePort() closes the port it found before the server binds it: another test process can take
  // it in between (EADDRINUSE seen in CI), so a start that finds its port taken tries new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(dir, options, await freePort(), await freePort());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 5) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      await rm(join(dir, 'data'), { recursive: true, force: true });
    }
  }
}

async function startOn(dir: string, options: Parameters<typeof startTestAuthz>[0], publicPort: number, mtlsPort: number): Promise<TestAuthz> {
  const { pki } = options;
  const real = (options.storage ?? (realStores.database ? 'real' : 'embedded')) === 'real';
  const env: Record<string, string> = {
    PUBLIC_PORT: String(publicPort),
    MTLS_PORT: String(mtlsPort),
    DATA_DIR: join(dir, 'data'),
    TLS_CERT_FILE: join(dir, 'server.pem'),
    TLS_KEY_FILE: join(dir, 'server-key.pem'),
    CLIENT_CA_FILE: join(dir, 'client-ca.pem'),
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'info',
    METRICS_PORT: '0', // an ephemeral metrics port: test servers run side by side
    ...(real && realStores.database ? {
      DATABASE_URL: realStores.database,
      DATABASE_SCHEMA: `t_${randomBytes(6).toString('hex')}`,
    } : {}),
    ...(real && realStores.redis ? { REDIS_URL: realStores.redis } : {}),
    ADMIN_SUBJECT_DN: pki.admin.subject,
    ...pick(options.shareStoresWith?.env, ['DATABASE_URL', 'DATABASE_SCHEMA', 'REDIS_URL', 'KEY_ENCRYPTION_KEY']),
    ...options.env,
  };
  const config = loadConfig(env);
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const server = await startAuthzServer(config, createLogger('info', sink));
  const mtlsUrl = `https://localhost:${server.mtlsPort}`;
  return {
    server,
    ca: pki.serverCa.certPem,
    publicUrl: `https://localhost:${server.publicPort}`,
    mtlsUrl,
    issuer: config.issuer,
    logs,
    env,
    admin: testAdmin(mtlsUrl, pki.serverCa.certPem, { cert: pki.admin.certPem, key: pki.admin.keyPem }),
    register: async (metadata) => {
      const row = await upsertClient(server.stores.sql, await asStored(server.stores.sql, metadata) as Parameters<typeof upsertClient>[1]);
      await server.stores.clientCache.invalidate(row.client_id); // the running server may hold the old metadata
      return row;
    },
    registerResource: (rs) => upsertResourceServer(server.stores.sql, {
      name: rs.identifier, token_format: 'jwt', sender_constraint_required: false, access_token_ttl: null, ...rs,
    }),
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The old form as migration 0004 moves it: each scope held on every resource server defining it. */
async function asStored(sql: SqlClient, metadata: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (metadata.resources !== undefined) return metadata;
  const scopes = typeof metadata.scope === 'string' ? metadata.scope.split(' ').filter(Boolean) : [];
  const resources: Record<string, string[]> = {};
  for (const rs of await listResourceServers(sql)) {
    const held = scopes.filter((s) => rs.scopes.includes(s));
    if (held.length) resources[rs.identifier] = held;
  }
  if (typeof metadata.default_resource === 'string') resources[metadata.default_resource] ??= [];
  const statics = scopes.filter((s) => s === 'openid' || s === 'offline_access');
  const { scope: _scope, ...rest } = metadata;
  return { ...rest, ...(statics.length ? { scope: statics.join(' ') } : {}), resources };
}

function pick(env: Record<string, string> | undefined, names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((name) => (env?.[name] === undefined ? [] : [[name, env[name]]])));
}

function testAdmin(mtlsUrl: string, ca: string, identity: TlsIdentity): TestAdmin {
  let cached: Promise<string> | undefined;
  async function token(options: { clientId?: string; identity?: TlsIdentity; scope?: string } = {}): Promise<string> {
    const res = await https(`${mtlsUrl}/token`, {
      ca,
      identity: options.identity ?? identity,
      form: { grant_type: 'client_credentials', client_id: options.clientId ?? 'admin', ...(options.scope === '' ? {} : { scope: options.scope ?? 'admin' }) },
    });
    if (res.status !== 200) throw new Error(`token request for ${options.clientId ?? 'admin'} failed: ${res.status} ${res.text}`);
    return res.json.access_token;
  }
  return {
    identity,
    token,
    async request(method, path, options = {}) {
      const accessToken = options.token === undefined ? await (cached ??= token()) : options.token;
      return https(`${mtlsUrl}/admin/v1${path}`, {
        method,
        ca,
        ...(options.identity === null ? {} : { identity: options.identity ?? identity }),
        ...(options.json === undefined ? {} : { json: options.json }),
        ...(options.body === undefined ? {} : { body: options.body }),
        headers: { ...(accessToken === null ? {} : { authorization: `Bearer ${accessToken}` }), ...options.headers },
      });
    },
  };
}
