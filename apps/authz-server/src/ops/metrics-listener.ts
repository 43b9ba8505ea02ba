// The metrics port (issue 12): plain HTTP, as Prometheus scrapes, on METRICS_HOST:METRICS_PORT
// (127.0.0.1:9464 by default: what it shows is for the operator, not the internet). GET /metrics,
// /healthz and /readyz; anything else 404, any other method 405. It has no TLS and no client
// authentication of its own: bind it where only the scraper reaches it.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { healthAnswer, type Readiness } from './health.ts';

export interface MetricsExposition {
  contentType: string;
  body: string;
}

export interface MetricsListener {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsListener(options: {
  host: string;
  port: number;
  /** The text Prometheus reads: this process's registry, or the workers' aggregated (ops/cluster-metrics.ts). */
  metrics: () => Promise<MetricsExposition>;
  readiness: Readiness;
  logger: Pick<Logger, 'error' | 'info'>;
}): Promise<MetricsListener> {
  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    const known = path === '/metrics' || path === '/healthz' || path === '/readyz';
    if (!known || (req.method !== 'GET' && req.method !== 'HEAD')) {
      const status = known ? 405 : 404;
      const reason = known ? `${path} answers GET and HEAD only` : 'not found: this port serves /metrics, /healthz and /readyz';
      // One line per refused request; the path is cut short, it is whatever the sender chose.
      options.logger.info({ event: 'metrics_port_refusal', status, method: req.method, path: path.slice(0, 100) }, reason);
      res.writeHead(status, { 'content-type': 'text/plain', ...(known ? { allow: 'GET, HEAD' } : {}) }).end(`${reason}\n`);
      return;
    }
    if (path === '/metrics') {
      const { contentType, body } = await options.metrics();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const health = (await healthAnswer(path, options.readiness))!;
    res.writeHead(health.status, health.headers).end(req.method === 'HEAD' ? undefined : health.body);
  }

  const server = createServer((req, res) => {
    answer(req, res).catch((err: unknown) => {
      options.logger.error({ event: 'metrics_error', err }, 'the metrics port could not answer');
      if (!res.headersSent) res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' });
      res.end('metrics unavailable\n');
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
