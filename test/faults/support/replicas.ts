// Two certbound instances as one deployment (same PostgreSQL schema, same Redis, same
// key-encryption key, TLS material and ISSUER; their own ports), plus the demo settlement API,
// as real child processes: what a load balancer spreads requests over. Real stores only
// (TEST_DATABASE_URL + TEST_REDIS_URL): two processes cannot share embedded storage.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { realStores } from '../../support/authz.ts';
import { freePort } from '../../support/https.ts';
import { startProcess, type RunningProcess } from '../../support/processes.ts';
import { describeAnswer, makeSecurityPki, timedRequest, type SecurityPki, type TimedAnswer } from '../../support/security-server.ts';

/** Why replicas cannot run here, or undefined. */
export function replicasUnavailable(): string | undefined {
  return realStores.database && realStores.redis ? undefined : 'two instances need TEST_DATABASE_URL and TEST_REDIS_URL (embedded storage is one process)';
}

export interface Instance {
  publicPort: number;
  mtlsPort: number;
  proc: RunningProcess;
  /** SIGKILL: no shutdown handler runs, open connections are reset by the kernel */
  kill(): Promise<void>;
  /** starts it again on the same ports with the same environment */
  restart(): Promise<void>;
}

export interface Replicas {
  pki: SecurityPki;
  dir: string;
  /** PEM that verifies every TLS certificate of the deployment (instances, demo, proxies) */
  ca: string;
  instances: [Instance, Instance];
  demo: RunningProcess;
  demoPort: number;
  /** the demo API's resource identifier (DEMO_AUDIENCE), registered with settlements:read and :write */
  resource: string;
  /** /admin/v1`path` on instance `i`'s mutual-TLS listener, directly (not through a proxy) */
  admin(method: string, path: string, json?: unknown, i?: 0 | 1): Promise<TimedAnswer>;
  stop(): Promise<void>;
}

export async function startReplicas(o: { proxyAddress: string; proxyHeader: 'nginx' | 'client-cert' }): Promise<Replicas> {
  const pki = await makeSecurityPki();
  const dir = join(pki.dir, 'deployment');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.pem'), pki.server.certPem);
  await writeFile(join(dir, 'server-key.pem'), pki.server.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'client-ca.pem'), pki.clientRoot.certPem);
  await writeFile(join(dir, 'ca.pem'), pki.serverCa.certPem);
  const ports = [[await freePort(), await freePort()], [await freePort(), await freePort()]] as const;
  const demoPort = await freePort();
  const resource = `https://localhost:${demoPort}`;
  const shared: Record<string, string> = {
    ISSUER: `https://localhost:${ports[1][0]}`,
    TLS_CERT_FILE: join(dir, 'server.pem'),
    TLS_KEY_FILE: join(dir, 'server-key.pem'),
    CLIENT_CA_FILE: join(dir, 'client-ca.pem'),
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ADMIN_SUBJECT_DN: pki.admin.subject,
    DATABASE_URL: realStores.database!,
    DATABASE_SCHEMA: `s_${randomBytes(6).toString('hex')}`,
    REDIS_URL: realStores.redis!,
    TRUSTED_PROXIES: o.proxyAddress,
    TRUSTED_PROXY_HEADER: o.proxyHeader,
    LOG_LEVEL: 'warn',
    WORKERS: '1',
  };
  const procs: Array<RunningProcess | undefined> = [];
  const instance = async (i: 0 | 1): Promise<Instance> => {
    const [publicPort, mtlsPort] = ports[i];
    const env = { ...shared, PUBLIC_PORT: String(publicPort), MTLS_PORT: String(mtlsPort), DATA_DIR: join(dir, `data-${i}`) };
    const spawn = async () => {
      const proc = await startProcess('apps/authz-server/src/main.ts', { ...env, LOG_LEVEL: 'info' }, { ready: /"event":"listening"/, timeoutMs: 90_000 });
      procs[i] = proc;
      return proc;
    };
    const self: Instance = {
      publicPort,
      mtlsPort,
      proc: await spawn(),
      async kill() {
        const child = self.proc.child;
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      },
      async restart() {
        await self.kill();
        self.proc = await spawn();
      },
    };
    return self;
  };
  let demo: RunningProcess | undefined;
  const stop = async () => {
    await Promise.all([demo?.stop(), ...procs.map((p) => p?.stop())]);
    await rm(pki.dir, { recursive: true, force: true });
  };
  try {
    // One after the other: the first applies the migrations.
    const first = await instance(0);
    const second = await instance(1);
    const ca = pki.serverCa.certPem;
    const adminIdentity = { cert: pki.admin.certPem, key: pki.admin.keyPem };
    const tokens: Array<string | undefined> = [];
    const admin: Replicas['admin'] = async (method, path, json, i = 0) => {
      const inst = [first, second][i];
      if (!tokens[i]) {
        const res = await timedRequest(`https://localhost:${inst.mtlsPort}/token`, {
          ca, identity: adminIdentity, form: { grant_type: 'client_credentials', client_id: 'admin', scope: 'admin' }, timeoutMs: 15_000,
        });
        if (res.status !== 200) throw new Error(`admin token: ${describeAnswer(res)}`);
        tokens[i] = res.json.access_token;
      }
      return timedRequest(`https://localhost:${inst.mtlsPort}/admin/v1${path}`, {
        ca, identity: adminIdentity, method, json, headers: { authorization: `Bearer ${tokens[i]}` }, timeoutMs: 15_000,
      });
    };
    const rs = await admin('POST', '/resource-servers', { identifier: resource, scopes: ['settlements:read', 'settlements:write'], sender_constraint_required: true });
    if (rs.status !== 201) throw new Error(`resource server: ${describeAnswer(rs)}`);
    // The demo API behind the same proxy: it believes the proxy's header in the same one format.
    demo = await startProcess('apps/resource-server-demo/src/main.ts', {
      DEMO_PORT: String(demoPort),
      DEMO_ISSUER: shared.ISSUER,
      DEMO_JWKS_URI: `https://localhost:${second.publicPort}/jwks`,
      DEMO_AUDIENCE: resource,
      DEMO_TLS_CERT_FILE: join(dir, 'server.pem'),
      DEMO_TLS_KEY_FILE: join(dir, 'server-key.pem'),
      DEMO_CA_FILE: join(dir, 'ca.pem'),
      TRUSTED_PROXIES: o.proxyAddress,
      TRUSTED_PROXY_HEADER: o.proxyHeader,
      REDIS_URL: realStores.redis!,
    }, { ready: /"event":"listening"/, timeoutMs: 60_000 });
    return { pki, dir, ca, instances: [first, second], demo, demoPort, resource, admin, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
