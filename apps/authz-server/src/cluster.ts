// WORKERS processes serving both listeners (node:cluster): a token endpoint is CPU-bound and one
// Node process uses about one core. Workers share nothing but PostgreSQL and Redis, which
// config.ts requires for WORKERS > 1.
//
// The primary runs no server code. It forks one worker and waits until that worker listens —
// by then migrations are applied, signing keys exist and the first-start registrations are
// written, by exactly the single-process start path — and then forks the rest, which find all
// of it in place (the advisory locks in storage/ remain the guard when several instances start
// at once). It forwards SIGTERM/SIGINT so every worker drains its in-flight requests, forwards
// SIGHUP so every worker reloads its TLS material (ops/reload.ts), and restarts a worker that
// dies, backing off when one keeps dying young.
import cluster, { type Worker } from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { ensureDevPki } from './dev/pki.ts';
import { metricsUrl, quickStart } from './dev/registrations.ts';
import { generatedKekFile } from './keys/kek.ts';
import { mtlsEndpointAliases } from './oidc/configuration.ts';
import { consoleUrls } from './console/registration.ts';
import { startPrimaryMetrics } from './ops/cluster-metrics.ts';

/** A worker that dies this soon after it started counts as dying young. */
const YOUNG_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
/** How long the primary waits for workers to drain before killing them (listeners allow 10 s). */
const SHUTDOWN_GRACE_MS = 20_000;
const EX_CONFIG = 78;
/**
 * V8 sizes the young generation for throughput on machines with memory to spare (semi-spaces
 * of up to 32 MB): under token-endpoint load that alone adds ~75 MB to each process's peak RSS,
 * for no throughput gain measured (bench/README.md). Workers get 4 MB semi-spaces unless the
 * operator chose a size.
 */
const WORKER_V8_FLAGS = ['--max-semi-space-size=4'];

interface ReadyMessage {
  certbound: 'ready';
  publicPort: number;
  mtlsPort: number;
}

function isReady(message: unknown): message is ReadyMessage {
  return typeof message === 'object' && message !== null && (message as ReadyMessage).certbound === 'ready';
}

export function inWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker, every log line names it, so the lines of several workers can be told apart. */
export function workerLogger(logger: Logger): Logger {
  return cluster.isWorker && cluster.worker ? logger.child({ worker: cluster.worker.id, pid: process.pid }) : logger;
}

/** Tells the primary this worker is listening. */
export function announceReady(server: { publicPort: number; mtlsPort: number }): void {
  if (cluster.isWorker) process.send?.({ certbound: 'ready', publicPort: server.publicPort, mtlsPort: server.mtlsPort } satisfies ReadyMessage);
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** At LOG_LEVEL debug or trace, every answer says which process gave it (`x-certbound-worker: <pid>`). */
export function withWorkerHeader(handler: Handler, logLevel: Config['logLevel']): Handler {
  if (logLevel !== 'debug' && logLevel !== 'trace') return handler;
  const pid = String(process.pid);
  return function workerHeader(req, res) {
    res.setHeader('x-certbound-worker', pid);
    handler(req, res);
  };
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Runs the primary: forks `config.workers` workers of this same entry point and supervises them
 * until SIGTERM/SIGINT. Resolves once the first worker is forked; the process exits when the
 * last worker has drained.
 */
export async function runPrimary(config: Config, logger: Logger): Promise<void> {
  // Port 0 (tests) must be chosen once, here: workers listening on 0 would each get another port,
  // and node:cluster would hand both listeners of a worker the same shared handle.
  const env: Record<string, string> = {};
  if (config.publicPort === 0) env.PUBLIC_PORT = String(await freePort(config.host));
  if (config.mtlsPort === 0) env.MTLS_PORT = String(await freePort(config.host));

  const startedAt = new Map<Worker, number>();
  const ready = new Set<Worker>();
  let everReady = false;
  let youngDeaths = 0;
  let shuttingDown = false;
  let exitCode = 0;
  const restarts = new Set<NodeJS.Timeout>();

  logger.info({ event: 'cluster_starting', workers: config.workers, pid: process.pid }, `starting ${config.workers} workers`);
  await startPrimaryMetrics(config, logger); // the workers' registries, aggregated (ops/cluster-metrics.ts)
  const chosen = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((flag) => flag.includes('semi-space-size'));
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...(chosen ? [] : WORKER_V8_FLAGS)] });

  function fork(): Worker {
    const worker = cluster.fork(env);
    startedAt.set(worker, Date.now());
    return worker;
  }

  function finishIfDone(): void {
    if (shuttingDown && Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
  }

  function shutdown(signal: string, code = 0): void {
    if (shuttingDown) return;
    shuttingDown = true;
    exitCode = code;
    for (const timer of restarts) clearTimeout(timer);
    logger.info({ event: 'shutdown', signal, workers: Object.keys(cluster.workers ?? {}).length }, 'draining every worker');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    }, SHUTDOWN_GRACE_MS).unref();
    finishIfDone();
  }

  cluster.on('message', (worker, message) => {
    if (!isReady(message) || ready.has(worker)) return;
    ready.add(worker);
    logger.info({ event: 'worker_ready', worker: worker.id, pid: worker.process.pid }, `worker ${worker.id} listening`);
    if (everReady) return;
    everReady = true;
    // The first worker has done the first-start work alone; the others now find it done.
    for (let i = 1; i < config.workers && !shuttingDown; i++) fork();
    void (async () => {
      if (config.devBootstrap) {
        const devPki = await ensureDevPki(config.dataDir);
        process.stdout.write(`\n${quickStart(devPki, mtlsEndpointAliases(config).token_endpoint, generatedKekFile({ value: config.keyEncryptionKey, dataDir: config.dataDir }), undefined, undefined, metricsUrl(config.metricsHost, config.metricsPort), config.consoleEnabled ? consoleUrls(config.issuer).home : undefined)}\n\n`);
      }
    })().catch((err: unknown) => logger.error({ err }, 'could not print the quick start'));
  });

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? Date.now());
    const wasReady = ready.delete(worker);
    startedAt.delete(worker);
    if (shuttingDown) {
      if (code !== 0 && signal !== 'SIGTERM') exitCode ||= 1;
      finishIfDone();
      return;
    }
    logger.error({ event: 'worker_exit', worker: worker.id, pid: worker.process.pid, code, signal, lived_ms: lived }, `worker ${worker.id} exited (${signal ?? code})`);
    if (!wasReady && (code === EX_CONFIG || !everReady)) {
      // It could not start at all (bad configuration, stores unreachable): so would the others.
      shutdown('worker_failed_to_start', code === EX_CONFIG ? EX_CONFIG : 1);
      return;
    }
    youngDeaths = lived < YOUNG_MS ? youngDeaths + 1 : 0;
    const delay = youngDeaths === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** (youngDeaths - 1));
    const timer = setTimeout(() => {
      restarts.delete(timer);
      if (shuttingDown) return;
      const replacement = fork();
      logger.warn({ event: 'worker_restart', replaced: worker.id, worker: replacement.id, delay_ms: delay }, `worker ${worker.id} replaced by worker ${replacement.id}`);
    }, delay);
    restarts.add(timer);
  });

  // Each worker reloads by itself (its own listeners, trust store and verdicts). Only workers that
  // listen get the signal (one still loading its modules has no handler yet, and SIGHUP would end
  // it); one still starting compares the files with what it loaded at its first poll.
  process.on('SIGHUP', () => {
    logger.info({ event: 'tls_reload_requested', workers: ready.size }, `SIGHUP: reloading the TLS material in ${ready.size} workers`);
    for (const worker of ready) worker.process.kill('SIGHUP');
  });
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  fork();
}
