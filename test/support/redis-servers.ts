// Private Redis deployments for the tests that need a topology of their own (issue 14 items 3
// and 4): plain redis-server processes on their own loopback ports (never the shared Redis of
// TEST_REDIS_URL), as a primary/replica pair watched by redis-sentinel processes, a 3-master
// Redis Cluster made with `redis-cli --cluster create`, or one server speaking only TLS. Each
// waits for the state it needs (a log line, a reply) under a deadline; none sleeps to wait.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './https.ts';

const run = promisify(execFile);

/** Why a private Redis (and Sentinel, with `sentinel`) cannot run here, or undefined. */
export function redisServersUnavailable(sentinel = false): string | undefined {
  if (!existsSync('/usr/bin/redis-server') || !existsSync('/usr/bin/redis-cli')) return 'needs redis-server and redis-cli (Debian packages redis-server, redis-tools; CI installs them)';
  if (sentinel && !existsSync('/usr/bin/redis-sentinel')) return 'needs redis-sentinel (Debian package redis-sentinel; CI installs it)';
  return undefined;
}

export interface RedisProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** stdout so far (redis logs there when no logfile is given) */
  output(): string;
  /** SIGKILL: a crash, as the sentinels and the clients see it */
  kill(): Promise<void>;
  /** Starts the same server again (same arguments, same port), e.g. after kill(). */
  restart(): Promise<RedisProcess>;
}

/** Starts `binary args`, resolving once `ready` shows in its output (deadline 20 s). */
export async function startRedisProcess(binary: string, args: string[], port: number, ready: RegExp): Promise<RedisProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    out += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${binary} ${args.join(' ')} did not become ready:\n${out}`)), 20_000);
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${binary} exited (${code}) before ready:\n${out}`));
    });
  });
  // An orphaned server would hold its port after a crashed test run.
  const reap = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', reap);
  return {
    port,
    child,
    output: () => out,
    restart: () => startRedisProcess(binary, args, port, ready),
    async kill() {
      process.off('exit', reap);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

const BASE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];

/** Polls `probe` until it returns true, every 100 ms, failing with `what` after `ms`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

// ---------------------------------------------------------------------------------------------
// Sentinel: a primary, a replica, and sentinels watching them

export interface SentinelDeployment {
  readonly name: string;
  /** `host:port,...` of the sentinels, as REDIS_SENTINELS takes it */
  readonly sentinels: string;
  primary: RedisProcess;
  replica: RedisProcess;
  readonly sentinelProcesses: RedisProcess[];
  /** the port the sentinels name as the primary now */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSentinelDeployment(options: { sentinels?: number; downAfterMs?: number } = {}): Promise<SentinelDeployment> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-sentinel-'));
  const name = 'certbound';
  const processes: RedisProcess[] = [];
  try {
    const primaryPort = await freePort();
    const primary = await startRedisProcess('/usr/bin/redis-server', ['--port', String(primaryPort), ...BASE, '--dir', dir], primaryPort, /Ready to accept connections/);
    processes.push(primary);
    const replicaPort = await freePort();
    const replica = await startRedisProcess('/usr/bin/redis-server', ['--port', String(replicaPort), ...BASE, '--dir', dir, '--replicaof', '127.0.0.1', String(primaryPort)], replicaPort, /Ready to accept connections/);
    processes.push(replica);
    const admin = new Redis({ port: primaryPort, host: '127.0.0.1', lazyConnect: true });
    await admin.connect();
    try {
      await waitFor('the replica to be in sync', async () => /slave0:.*state=online/.test(await admin.info('replication')));
    } finally {
      admin.disconnect();
    }
    const count = options.sentinels ?? 3;
    const sentinelProcesses: RedisProcess[] = [];
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const file = join(dir, `sentinel-${i}.conf`);
      // Sentinel rewrites its config file (discovered replicas, other sentinels): each its own.
      await writeFile(file, [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} ${Math.floor(count / 2) + 1}`,
        `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'));
      const sentinel = await startRedisProcess('/usr/bin/redis-sentinel', [file], port, /\+monitor master/);
      processes.push(sentinel);
      sentinelProcesses.push(sentinel);
    }
    const asked = async (port: number, args: string[]) => {
      const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await client.connect();
        return await client.call('SENTINEL', ...args);
      } finally {
        client.disconnect();
      }
    };
    // Every sentinel knows the replica and the others, so a failover can be agreed.
    for (const s of sentinelProcesses) {
      await waitFor('the sentinels to know the replica and each other', async () => {
        const replicas = await asked(s.port, ['replicas', name]) as unknown[];
        const others = await asked(s.port, ['sentinels', name]) as unknown[];
        return replicas.length === 1 && others.length === count - 1;
      });
    }
    const deployment: SentinelDeployment = {
      name,
      sentinels: sentinelProcesses.map((s) => `127.0.0.1:${s.port}`).join(','),
      primary,
      replica,
      sentinelProcesses,
      async primaryPort() {
        for (const s of sentinelProcesses) {
          if (s.child.exitCode !== null) continue;
          const answer = await asked(s.port, ['get-master-addr-by-name', name]).catch(() => undefined) as string[] | undefined;
          if (answer) return Number(answer[1]);
        }
        throw new Error('no sentinel answered');
      },
      async stop() {
        // primary and replica may have been replaced by a restart()
        await Promise.all([...new Set([...processes, deployment.primary, deployment.replica])].map((p) => p.kill()));
        await rm(dir, { recursive: true, force: true });
      },
    };
    return deployment;
  } catch (err) {
    await Promise.all(processes.map((p) => p.kill()));
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Cluster: three masters, no replicas

export interface ClusterDeployment {
  /** `host:port,...` of the masters, as REDIS_CLUSTER_NODES takes it */
  readonly nodes: string;
  readonly ports: number[];
  stop(): Promise<void>;
}

export async function startRedisCluster(masters = 3): Promise<ClusterDeployment> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-cluster-'));
  const processes: RedisProcess[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      processes.push(await startRedisProcess('/usr/bin/redis-server', [
        '--port', String(port), ...BASE, '--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', '2000',
      ], port, /Ready to accept connections/));
    }
    const ports = processes.map((p) => p.port);
    await run('/usr/bin/redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const port of ports) {
      const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
      await client.connect();
      try {
        await waitFor(`cluster_state:ok on ${port}`, async () => /cluster_state:ok/.test(String(await client.call('CLUSTER', 'INFO'))));
      } finally {
        client.disconnect();
      }
    }
    return {
      nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
      ports,
      async stop() {
        await Promise.all(processes.map((p) => p.kill()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(processes.map((p) => p.kill()));
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// TLS only, client certificates required

/** A redis-server listening only on a TLS port, requiring a client certificate signed by `caFile`. */
export async function startTlsRedis(files: { certFile: string; keyFile: string; caFile: string }): Promise<RedisProcess> {
  const port = await freePort();
  return startRedisProcess('/usr/bin/redis-server', [
    '--port', '0', '--tls-port', String(port), ...BASE,
    '--tls-cert-file', files.certFile, '--tls-key-file', files.keyFile, '--tls-ca-cert-file', files.caFile, '--tls-auth-clients', 'yes',
  ], port, /Ready to accept connections/);
}

/**
 * The storage tests' time machine (apps/authz-server/test/storage/helpers.ts redisTimeMachine) on
 * a cluster: every key under `prefix` on every master loses `seconds` of TTL, and a key whose TTL
 * runs out is deleted, as expiry would; keys without a TTL keep living and are reported.
 */
export function clusterTimeMachine(cluster: ClusterDeployment, prefix: string) {
  const masters = cluster.ports.map((port) => new Redis({ host: '127.0.0.1', port }));
  async function keys(): Promise<Array<[Redis, string]>> {
    const found: Array<[Redis, string]> = [];
    for (const node of masters) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        for (const key of batch) found.push([node, key]);
      } while (cursor !== '0');
    }
    return found;
  }
  return {
    async advance(seconds: number): Promise<void> {
      const ms = Math.round(seconds * 1000);
      for (const [node, key] of await keys()) {
        const pttl = await node.pttl(key);
        if (pttl < 0) continue;
        if (pttl <= ms) await node.del(key);
        else await node.pexpire(key, pttl - ms);
      }
    },
    async keysWithoutTtl(): Promise<string[]> {
      const missing: string[] = [];
      for (const [node, key] of await keys()) if ((await node.pttl(key)) === -1) missing.push(key.slice(prefix.length));
      return missing;
    },
    async close(): Promise<void> {
      for (const [node, key] of await keys()) await node.del(key);
      await Promise.all(masters.map((node) => node.quit()));
    },
  };
}
