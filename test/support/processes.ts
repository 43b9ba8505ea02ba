// Real processes for end-to-end tests: start an app with Node 24 and the source condition, wait
// for its "listening" log line, keep its output for assertions, and stop it with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { freePort } from './https.ts';
import { ensureDevPki, type DevPki } from '../../apps/authz-server/src/dev/pki.ts';
import { openStores } from '../../apps/authz-server/src/storage/index.ts';
import { bootstrapDevRegistrations, DEMO_RESOURCE } from '../../apps/authz-server/src/dev/registrations.ts';
import type { LogLine } from './json-answer.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines seen so far. */
  logs(): LogLine[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startProcess(
  entry: string, env: Record<string, string>, options: { ready: RegExp; timeoutMs?: number; cwd?: string },
): Promise<RunningProcess> {
  const child = spawn(process.execPath, ['--conditions=certbound-source', resolve(repoRoot, entry)], {
    cwd: options.cwd ?? repoRoot,
    // Ephemeral metrics ports unless a test chooses: several servers run side by side.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', METRICS_PORT: '0', DEMO_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not become ready in time:\n${out}\n${err}`)), options.timeoutMs ?? 150_000);
    const check = () => {
      if (options.ready.test(out)) { clearTimeout(timer); resolve(); }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${entry} exited with ${code} before ready:\n${out}\n${err}`)); });
  });

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

export interface DevServer {
  /** the empty working directory it started in; its dev PKI is in .data/pki */
  dir: string;
  mtlsPort: number;
  proc: RunningProcess;
  /** stop the server and remove `dir` */
  close(): Promise<void>;
}

/**
 * `npm start` on a fresh machine: the server in a new, empty temporary directory with nothing set
 * but its ports, ready once it has printed the curl for /token (after the dev bootstrap).
 */
export async function startDevServer(prefix: string): Promise<DevServer> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const mtlsPort = await freePort();
    const proc = await startProcess('apps/authz-server/src/main.ts', {
      PUBLIC_PORT: String(await freePort()),
      MTLS_PORT: String(mtlsPort),
      LOG_LEVEL: 'info',
    }, { ready: /curl --cacert[\s\S]*\/token/, cwd: dir });
    return { dir, mtlsPort, proc, close: async () => { await proc.stop(); await remove(); } };
  } catch (error) {
    await remove();
    throw error;
  }
}

export interface DevPair {
  dir: string;
  /** DATA_DIR of both processes; the dev PKI is in its pki/ */
  dataDir: string;
  pki: DevPki;
  /** PEM that verifies both servers' TLS certificates */
  ca: string;
  publicPort: number;
  demoPort: number;
  as: RunningProcess;
  demo: RunningProcess;
  /** stop both processes and remove `dir` */
  close(): Promise<void>;
}

/**
 * The authorization server after its dev bootstrap and the demo settlement API beside it, as
 * `npm start` runs them, on free ports in a new temporary directory. `demoEnv` adds to the demo's
 * environment.
 */
export async function startDevPair(prefix: string, demoEnv: Record<string, string> = {}): Promise<DevPair> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const dataDir = join(dir, '.data');
  let as: RunningProcess | undefined;
  let demo: RunningProcess | undefined;
  const close = async () => {
    await Promise.all([demo?.stop(), as?.stop()]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const pki = await ensureDevPki(dataDir);
    // What the first start registers (the embedded database belongs to one process at a time).
    const stores = await openStores({ dataDir });
    await bootstrapDevRegistrations(stores.sql, pki);
    await stores.close();
    const [publicPort, mtlsPort, demoPort] = [await freePort(), await freePort(), await freePort()];
    as = await startProcess('apps/authz-server/src/main.ts', { PUBLIC_PORT: String(publicPort), MTLS_PORT: String(mtlsPort), DATA_DIR: dataDir }, { ready: /"event":"listening"/, cwd: dir });
    demo = await startProcess('apps/resource-server-demo/src/main.ts', {
      DATA_DIR: dataDir, DEMO_ISSUER: `https://localhost:${publicPort}`, DEMO_PORT: String(demoPort), DEMO_AUDIENCE: DEMO_RESOURCE, ...demoEnv,
    }, { ready: /"event":"listening"/ });
    return { dir, dataDir, pki, ca: await readFile(pki.caFile, 'utf8'), publicPort, demoPort, as, demo, close };
  } catch (error) {
    await close();
    throw error;
  }
}
