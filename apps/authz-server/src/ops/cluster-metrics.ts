// With WORKERS > 1 the cluster primary serves the metrics port (cluster.ts): it asks every worker
// over the cluster IPC channel for its registry and its readiness, and answers with the sum (or,
// per metric, the max/average prom-client's aggregators say). A worker that does not answer
// within the deadline (starting, stopping) is left out of that one answer instead of failing it.
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry } from 'prom-client';
import { metricsRegistry } from './metrics.ts';
import { READY_DEADLINE_MS, type Readiness } from './health.ts';
import { startMetricsListener, type MetricsExposition } from './metrics-listener.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';

/** How long /metrics waits for the workers (Prometheus' scrape timeout is 10 s by default). */
const METRICS_DEADLINE_MS = 2000;
/** How long /readyz waits: a worker's own store deadline and a little, inside a probe's usual 1 s. */
const READINESS_DEADLINE_MS = READY_DEADLINE_MS + 100;

interface Request {
  certbound: 'metrics-request' | 'readiness-request';
  id: string;
}
interface Answer {
  certbound: 'metrics-answer' | 'readiness-answer';
  id: string;
  /** registry.getMetricsAsJSON() of the worker */
  metrics?: object[];
  down?: string[];
}

const isRequest = (m: unknown): m is Request => typeof m === 'object' && m !== null
  && ((m as Request).certbound === 'metrics-request' || (m as Request).certbound === 'readiness-request') && typeof (m as Request).id === 'string';
const isAnswer = (m: unknown): m is Answer => typeof m === 'object' && m !== null
  && ((m as Answer).certbound === 'metrics-answer' || (m as Answer).certbound === 'readiness-answer') && typeof (m as Answer).id === 'string';

/** In a worker: answers the primary's questions with this process's registry and readiness. */
export function answerPrimary(readiness: Readiness): () => void {
  const onMessage = (message: unknown) => {
    if (!isRequest(message)) return;
    const work = message.certbound === 'metrics-request'
      ? metricsRegistry().getMetricsAsJSON().then((metrics) => ({ certbound: 'metrics-answer' as const, id: message.id, metrics }))
      : readiness.check().then(({ down }) => ({ certbound: 'readiness-answer' as const, id: message.id, down }));
    work.then((answer) => process.send?.(answer), () => undefined);
  };
  process.on('message', onMessage);
  return () => process.off('message', onMessage);
}

/** In the primary: asks every connected worker, collects the answers that arrive in time. */
async function askWorkers(kind: Request['certbound'], deadlineMs: number): Promise<Answer[]> {
  const id = randomUUID();
  const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined && w.isConnected());
  if (workers.length === 0) return [];
  const answers: Answer[] = [];
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      cluster.off('message', onMessage);
      resolve(answers);
    };
    const onMessage = (_worker: unknown, message: unknown) => {
      if (!isAnswer(message) || message.id !== id) return;
      answers.push(message);
      if (answers.length === workers.length) finish();
    };
    const timer = setTimeout(finish, deadlineMs);
    cluster.on('message', onMessage);
    for (const worker of workers) worker!.send({ certbound: kind, id } satisfies Request);
  });
}

/** The primary's /metrics: every worker's registry, aggregated. */
async function workersMetrics(): Promise<MetricsExposition> {
  const answers = await askWorkers('metrics-request', METRICS_DEADLINE_MS);
  const aggregated = AggregatorRegistry.aggregate(answers.map((a) => a.metrics ?? []));
  return { contentType: aggregated.contentType, body: await aggregated.metrics() };
}

/** The primary's /readyz: every store a worker finds down; no worker answering is `workers` down. */
const workersReadiness: Readiness = {
  async check() {
    const answers = await askWorkers('readiness-request', READINESS_DEADLINE_MS);
    if (answers.length === 0) return { down: ['workers'] };
    return { down: [...new Set(answers.flatMap((a) => a.down ?? []))].sort() };
  },
};

/** The cluster primary's metrics port (cluster.ts), before it forks; exits when the port cannot be had. */
export async function startPrimaryMetrics(config: Config, logger: Logger): Promise<void> {
  if (config.metricsPort === undefined) return;
  try {
    const listener = await startMetricsListener({
      host: config.metricsHost, port: config.metricsPort, metrics: workersMetrics, readiness: workersReadiness, logger,
    });
    logger.info({ event: 'metrics_listening', metrics: `http://${config.metricsHost}:${listener.port}/metrics`, workers: config.workers }, 'metrics (every worker, aggregated), /healthz and /readyz listening');
  } catch (err) {
    logger.fatal({ event: 'metrics_listen_failed', err }, `the metrics port ${config.metricsHost}:${config.metricsPort} cannot be opened (METRICS_PORT=off turns it off)`);
    process.exit(1);
  }
}
