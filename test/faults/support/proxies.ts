// The example proxy configurations of deploy/ as plain processes on loopback: nginx with
// deploy/nginx/certbound-replicas.conf (its ${CERTBOUND_*} placeholders replaced, as envsubst
// would) and HAProxy with deploy/haproxy/haproxy.cfg (as it is: HAProxy reads the placeholders
// from its environment). For test/faults/proxies.test.ts and bench/, which must run the very
// files an operator is given.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../../support/processes.ts';
import { NGINX, writeNginxConf } from '../../support/nginx.ts';

export { NGINX };

export const HAPROXY = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].find((p) => existsSync(p));
export const NGINX_CONF = join(repoRoot, 'deploy/nginx/certbound-replicas.conf');
export const HAPROXY_CFG = join(repoRoot, 'deploy/haproxy/haproxy.cfg');

/** What a proxy needs to know: the placeholders of deploy/'s files, by name without CERTBOUND_. */
export interface ProxyPlaceholders {
  LISTEN: string;
  SERVER_NAME?: string;
  TLS_DIR: string;
  UPSTREAM_NAME: string;
  '1_MTLS': string;
  '1_PUBLIC_PORT'?: string;
  '2_MTLS': string;
  '2_PUBLIC_PORT'?: string;
  PROXY_ADDRESS: string;
  API_LISTEN: string;
  API_UPSTREAM: string;
}

/** The TLS files both configurations read from CERTBOUND_TLS_DIR. */
export async function writeProxyTls(dir: string, o: { certPem: string; keyPem: string; clientCaPem: string; upstreamCaPem: string }): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.pem'), o.certPem);
  await writeFile(join(dir, 'server-key.pem'), o.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'server-with-key.pem'), `${o.certPem.trim()}\n${o.keyPem.trim()}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'client-ca.pem'), o.clientCaPem);
  await writeFile(join(dir, 'certbound-ca.pem'), o.upstreamCaPem);
}

function environment(p: ProxyPlaceholders): Record<string, string> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [`CERTBOUND_${k}`, String(v)]));
}

/** envsubst restricted to the given names: every ${CERTBOUND_*} must be given, nginx's $vars stay. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(CERTBOUND_[A-Z0-9_]+)\}/g, (_, name: string) => {
    assert.ok(vars[name] !== undefined, `${name} is used by the configuration but not given`);
    return vars[name];
  });
}

export interface RunningProxy {
  kind: 'nginx' | 'haproxy';
  child: ChildProcess;
  dir: string;
  /** 'UP' / 'DOWN' / … of a backend server (HAProxy's stats socket); undefined for nginx */
  serverStatus(backend: string, server: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

async function waitListening(port: number, child: ChildProcess, why: () => Promise<string>): Promise<void> {
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (child.exitCode !== null || i > 200) throw new Error(`proxy did not start: ${await why()}`);
    await sleep(50);
  }
}

function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

function started(kind: RunningProxy['kind'], child: ChildProcess, dir: string, serverStatus: RunningProxy['serverStatus']): RunningProxy {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.on('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return {
    kind,
    child,
    dir,
    serverStatus,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** nginx with deploy/nginx/certbound-replicas.conf inside a minimal http {} of its own. */
export async function startNginx(p: ProxyPlaceholders): Promise<RunningProxy> {
  assert.ok(NGINX, 'nginx is not installed: apt-get install nginx-light (.ci/run does)');
  const dir = await mkdtemp(join(tmpdir(), 'certbound-nginx-'));
  const site = substitute(readFileSync(NGINX_CONF, 'utf8'), environment({ SERVER_NAME: 'localhost', ...p }));
  await writeFile(join(dir, 'certbound.conf'), site);
  const args = await writeNginxConf(dir, { workerConnections: 512, what: 'deploy/nginx/certbound-replicas.conf', http: `    include ${dir}/certbound.conf;` });
  const child = spawn(NGINX, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  await waitListening(portOf(p.LISTEN), child, async () => `${stderr}\n${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`);
  return started('nginx', child, dir, async () => undefined);
}

/** HAProxy with deploy/haproxy/haproxy.cfg as it is, plus a stats socket (a second global section) for the test to read. */
export async function startHaproxy(p: ProxyPlaceholders): Promise<RunningProxy> {
  assert.ok(HAPROXY, 'haproxy is not installed: apt-get install haproxy (.ci/run does)');
  const dir = await mkdtemp(join(tmpdir(), 'certbound-haproxy-'));
  const socket = join(dir, 'admin.sock');
  await writeFile(join(dir, 'stats.cfg'), `global\n    stats socket ${socket} mode 600 level admin\n`);
  const env = { PATH: process.env.PATH ?? '', ...environment(p) };
  const args = ['-f', HAPROXY_CFG, '-f', join(dir, 'stats.cfg')];
  try {
    execFileSync(HAPROXY, ['-c', ...args], { stdio: 'pipe', env });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    const { stdout, stderr } = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`haproxy -c refused deploy/haproxy/haproxy.cfg:\n${String(stdout ?? '')}${String(stderr ?? '')}`, { cause: err });
  }
  const child = spawn(HAPROXY, ['-db', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
  await waitListening(portOf(p.LISTEN), child, async () => output);
  const serverStatus = async (backend: string, server: string) => {
    const csv = await new Promise<string>((resolve, reject) => {
      let text = '';
      const s = connect(socket, () => s.end('show stat\n'));
      s.on('data', (c: Buffer) => { text += c.toString(); });
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n').map((l) => l.split(','));
    const row = rows.find((r) => r[0] === backend && r[1] === server);
    return row?.[header.indexOf('status')];
  };
  return started('haproxy', child, dir, serverStatus);
}
