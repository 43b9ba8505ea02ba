// Wires issue 12's metrics and health into one server process (main.ts calls it once): store
// timing, the recording switch, /healthz and /readyz in front of oidc-provider's routes, and the
// metrics port — served here in a single process, by the cluster primary with WORKERS > 1 (this
// process then answers the primary's questions instead: ops/cluster-metrics.ts).
import type { X509Certificate } from 'node:crypto';
import cluster from 'node:cluster';
import type { Provider } from 'oidc-provider';
import type { CertificateSource } from '@certbound/cnf-verifier';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Stores } from '../storage/index.ts';
import { listActiveCertificateExpiries } from '../storage/postgres/client-certificates.ts';
import { mountBeforeEngine } from '../oidc/configuration.ts';
import { enableMetrics, metricsRegistry } from './metrics.ts';
import { timeStores } from './store-timing.ts';
import { createHealthRoutes, createReadiness, type Readiness } from './health.ts';
import { createCertificatelessCounter } from './certificateless-connections.ts';
import { startMetricsListener, type MetricsListener } from './metrics-listener.ts';
import { answerPrimary } from './cluster-metrics.ts';

export interface Observability {
  /** The metrics port this process listens on; undefined when metrics are off or the primary serves it. */
  readonly metricsPort: number | undefined;
  readonly readiness: Readiness;
  close(): Promise<void>;
}

/** The readiness of this process's stores, named as /readyz reports them. */
export function storesReadiness(config: Config, stores: Pick<Stores, 'sql' | 'kv'>, logger: Logger): Readiness {
  return createReadiness([
    { name: config.databaseUrl ? 'postgres' : 'pglite', ping: () => stores.sql.query('select 1') },
    { name: config.redis ? 'redis' : 'kv', ping: () => stores.kv.get('certbound:readyz') },
  ], { logger });
}

export async function startObservability(config: Config, deps: {
  stores: Stores;
  logger: Logger;
  provider: Provider;
  /** the server certificate PEM in force (a reload shows at the next scrape) */
  serverCertPem: () => string;
  /** every CA of the client CA bundle in force (roots and intermediates) */
  trustAnchors: () => readonly X509Certificate[];
  /** the server's certificate source (the one oidc/ reads): which certificate a connection presented */
  certificateSource: Pick<CertificateSource, 'fromRequest'>;
}): Promise<Observability> {
  const { stores, logger } = deps;
  const readiness = storesReadiness(config, stores, logger);
  mountBeforeEngine(deps.provider, createHealthRoutes(readiness, logger));
  if (config.metricsPort === undefined) return { metricsPort: undefined, readiness, async close() {} };

  timeStores(stores, { sql: config.databaseUrl ? 'postgres' : 'pglite', kv: config.redis ? 'redis' : 'memory' });
  enableMetrics({
    maxClients: config.metricsMaxClients,
    registeredCertificates: () => listActiveCertificateExpiries(stores.sql),
    serverCertificate: deps.serverCertPem,
    trustAnchors: deps.trustAnchors,
    onSourceError: (source, err) => logger.warn({ event: 'metrics_source_error', source, err: err.message }, `metrics: ${source} could not be read; the last values read are reported`),
  });
  mountBeforeEngine(deps.provider, createCertificatelessCounter(deps.certificateSource));
  if (cluster.isWorker) {
    const stop = answerPrimary(readiness);
    return { metricsPort: undefined, readiness, async close() { stop(); } };
  }
  const registry = metricsRegistry();
  const listener: MetricsListener = await startMetricsListener({
    host: config.metricsHost,
    port: config.metricsPort,
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    readiness,
    logger,
  });
  logger.info({ event: 'metrics_listening', metrics: `http://${config.metricsHost}:${listener.port}/metrics` }, 'metrics, /healthz and /readyz listening');
  return { metricsPort: listener.port, readiness, close: () => listener.close() };
}
