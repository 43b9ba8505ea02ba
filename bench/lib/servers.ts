// The servers under test, each a real child process started exactly as an operator would start
// it: certbound's apps/authz-server/src/main.ts (embedded storage, or PostgreSQL + Redis in a
// fresh schema, with WORKERS) and bench/baseline-server.ts. Registrations are written before the
// server starts (PGlite belongs to one process at a time). Peak RSS is read from /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openStores } from '../../apps/authz-server/src/storage/index.ts';
import { upsertClient } from '../../apps/authz-server/src/storage/postgres/clients.ts';
import { upsertResourceServer } from '../../apps/authz-server/src/storage/postgres/resource-servers.ts';
import type { SqlClient } from '../../apps/authz-server/src/storage/sql.ts';
import { freePort } from '../../test/support/https.ts';
import { BENCH_CLIENT_SUBJECT, type BenchPki } from './pki.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const RESOURCE = 'https://bench.certbound.test/api';
export const CLIENT_ID = 'bench-client';
export const TOKEN_BODY = `grant_type=client_credentials&client_id=${CLIENT_ID}`;

export type Storage = { kind: 'embedded' } | { kind: 'external'; databaseUrl: string; redisUrl: string };

export interface RunningServer {
  readonly name: string;
  /** origin of the mutual-TLS listener (token endpoint) */
  readonly origin: string;
  readonly issuer: string;
  readonly tokenPath: string;
  /** the process started (the primary with WORKERS > 1) */
  readonly pid: number;
  /** peak resident set of the largest process, and summed over the process tree */
  peakRss(): Promise<{ maxProcessBytes: number; totalBytes: number; processes: number }>;
  /** CPU time (user + system) used so far by the process tree, in seconds */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

async function statusValue(pid: number, field: string): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

export async function processTree(pid: number): Promise<number[]> {
  const pids = [pid];
  try {
    for (const task of await readdir(`/proc/${pid}/task`)) {
      const children = (await readFile(`/proc/${pid}/task/${task}/children`, 'utf8')).trim();
      for (const child of children ? children.split(/\s+/).map(Number) : []) pids.push(...await processTree(child));
    }
  } catch {
    // the process is gone, or /proc lacks children lists: report what was found
  }
  return pids;
}

let clockTicks: number | undefined;

async function cpuSecondsOf(pid: number): Promise<number> {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  let ticks = 0;
  for (const p of await processTree(pid)) {
    try {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited meanwhile
    }
  }
  return ticks / clockTicks;
}

async function peakRssOf(pid: number) {
  const values = await Promise.all((await processTree(pid)).map((p) => statusValue(p, 'VmHWM')));
  return { maxProcessBytes: Math.max(0, ...values), totalBytes: values.reduce((a, b) => a + b, 0), processes: values.length };
}

interface Child {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function startChild(entry: string, env: Record<string, string>, ready: (stdout: string) => boolean, nodeArgs: string[] = []): Promise<Child> {
  const child = spawn(process.execPath, ['--conditions=certbound-source', ...nodeArgs, join(repoRoot, entry)], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); if (out.length > 1_000_000) out = out.slice(-500_000); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: Child = {
    child,
    output: () => `${out}\n${err}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void handle.stop();
      reject(new Error(`${entry} did not become ready in 120 s:\n${handle.output().slice(-4000)}`));
    }, 120_000);
    const check = () => {
      if (ready(out)) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve(handle);
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited (${signal ?? code}) before it was ready:\n${handle.output().slice(-4000)}`));
    });
  });
}

export interface CertboundOptions {
  pki: BenchPki;
  storage: Storage;
  workers: number;
  /** PEM bundle of client CAs; default the bench client's root only */
  clientCaPem?: string;
  /** clients registered besides the bench client (bulk insert) */
  extraClients?: number;
  /** embedded storage: copy this prepared DATA_DIR (prepareEmbeddedTemplate) instead of creating one */
  embeddedTemplate?: string;
  /** extra node flags for the server processes (e.g. --cpu-prof) */
  nodeArgs?: string[];
  env?: Record<string, string>;
}

/** Registers the bench resource server and the bench client. */
async function registerBench(sql: SqlClient): Promise<void> {
  await upsertResourceServer(sql, { identifier: RESOURCE, name: 'bench API', scopes: ['bench:read'], token_format: 'jwt', access_token_ttl: null, sender_constraint_required: true });
  await upsertClient(sql, {
    client_id: CLIENT_ID,
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: BENCH_CLIENT_SUBJECT,
    grant_types: ['client_credentials'],
    response_types: [],
    resources: { [RESOURCE]: ['bench:read'] },
    default_resource: RESOURCE,
  });
}

/** Registers `extra` filler clients besides the bench client (bulk insert). */
async function registerFillers(sql: SqlClient, extra: number): Promise<void> {
  // One statement per 50 000 rows keeps PGlite's memory flat.
  for (let from = 1; from <= extra; from += 50_000) {
    const to = Math.min(extra, from + 49_999);
    await sql.query(
      `insert into clients (client_id, metadata)
       select 'bulk-' || g, jsonb_build_object(
         'client_id', 'bulk-' || g,
         'token_endpoint_auth_method', 'tls_client_auth',
         'tls_client_auth_subject_dn', 'CN=bulk-' || g || ',O=certbound bench',
         'grant_types', jsonb_build_array('client_credentials'),
         'response_types', '[]'::jsonb,
         'resources', jsonb_build_object($1::text, jsonb_build_array('bench:read')),
         'default_resource', $1::text)
       from generate_series($2::integer, $3::integer) g
       on conflict (client_id) do nothing`,
      [RESOURCE, from, to],
    );
  }
}

export async function startCertbound(name: string, opts: CertboundOptions): Promise<RunningServer> {
  const dir = await mkdtemp(join(opts.pki.dir, 'authz-'));
  const caFile = opts.clientCaPem === undefined ? opts.pki.files.clientCa : join(dir, 'client-ca.pem');
  if (opts.clientCaPem !== undefined) await writeFile(caFile, opts.clientCaPem);
  const [publicPort, mtlsPort] = [await freePort(), await freePort()];
  const schema = opts.storage.kind === 'external' ? `bench_${randomBytes(5).toString('hex')}` : undefined;
  const dataDir = join(dir, 'data');

  const fromTemplate = opts.storage.kind === 'embedded' && opts.embeddedTemplate !== undefined;
  if (fromTemplate) await cp(opts.embeddedTemplate!, dataDir, { recursive: true });
  if (!fromTemplate || (opts.extraClients ?? 0) > 0) {
    const stores = await openStores({
      dataDir,
      ...(opts.storage.kind === 'external' ? { databaseUrl: opts.storage.databaseUrl, redisUrl: opts.storage.redisUrl, schema: schema! } : {}),
    });
    try {
      if (!fromTemplate) await registerBench(stores.sql);
      await registerFillers(stores.sql, opts.extraClients ?? 0);
    } finally {
      await stores.close();
    }
  }

  const env: Record<string, string> = {
    PUBLIC_PORT: String(publicPort),
    MTLS_PORT: String(mtlsPort),
    DATA_DIR: dataDir,
    TLS_CERT_FILE: opts.pki.files.serverCert,
    TLS_KEY_FILE: opts.pki.files.serverKey,
    CLIENT_CA_FILE: caFile,
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'info',
    // As shipped, metrics on; each server its own ephemeral port (several run side by side).
    METRICS_PORT: '0',
    WORKERS: String(opts.workers),
    ...(opts.storage.kind === 'external'
      ? { DATABASE_URL: opts.storage.databaseUrl, DATABASE_SCHEMA: schema!, REDIS_URL: opts.storage.redisUrl }
      : {}),
    ...opts.env,
  };
  const listening = (out: string) => (out.match(/"event":"listening"/g)?.length ?? 0) >= opts.workers;
  let child: Child;
  try {
    // Started as we ship it (npm start, Dockerfile): with the semi-space flag of cluster.ts.
    child = await startChild('apps/authz-server/src/main.ts', env, listening, ['--max-semi-space-size=4', ...(opts.nodeArgs ?? [])]);
  } catch (err) {
    await cleanup();
    throw err;
  }

  async function cleanup(): Promise<void> {
    if (schema !== undefined && opts.storage.kind === 'external') {
      const client = new pg.Client({ connectionString: opts.storage.databaseUrl });
      await client.connect();
      try {
        await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end();
      }
    }
    await rm(dir, { recursive: true, force: true });
  }

  return {
    name,
    origin: `https://127.0.0.1:${mtlsPort}`,
    issuer: `https://localhost:${publicPort}`,
    tokenPath: '/token',
    pid: child.child.pid!,
    peakRss: () => peakRssOf(child.child.pid!),
    cpuSeconds: () => cpuSecondsOf(child.child.pid!),
    async stop() {
      await child.stop();
      await cleanup();
    },
  };
}

/**
 * An embedded DATA_DIR with the schema applied and the bench client registered. Creating a
 * PGlite database runs initdb, which takes seconds; copying a prepared one does not.
 */
export async function prepareEmbeddedTemplate(pki: BenchPki): Promise<string> {
  const dataDir = join(await mkdtemp(join(pki.dir, 'template-')), 'data');
  const stores = await openStores({ dataDir });
  try {
    await registerBench(stores.sql);
  } finally {
    await stores.close();
  }
  return dataDir;
}

export async function startBaseline(pki: BenchPki, nodeArgs: string[] = []): Promise<RunningServer> {
  const port = await freePort();
  const child = await startChild('bench/baseline-server.ts', {
    BASELINE_PORT: String(port),
    BASELINE_ISSUER: `https://localhost:${port}`,
    BASELINE_RESOURCE: RESOURCE,
    BASELINE_CLIENT_SUBJECT: new X509Certificate(pki.client.certPem).subject,
    BASELINE_TLS_CERT_FILE: pki.files.serverCert,
    BASELINE_TLS_KEY_FILE: pki.files.serverKey,
    BASELINE_CLIENT_CA_FILE: pki.files.clientCa,
  }, (out) => out.includes('"event":"listening"'), nodeArgs);
  return {
    name: 'baseline',
    origin: `https://127.0.0.1:${port}`,
    issuer: `https://localhost:${port}`,
    tokenPath: '/token',
    pid: child.child.pid!,
    peakRss: () => peakRssOf(child.child.pid!),
    cpuSeconds: () => cpuSecondsOf(child.child.pid!),
    stop: () => child.stop(),
  };
}
