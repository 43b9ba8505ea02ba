// The demo's own Prometheus metrics: how many requests the verifier accepted and refused, by
// refusal code and binding, counted through @certbound/cnf-verifier's onOutcome hook, plus the
// process metrics; served as plain HTTP on DEMO_METRICS_PORT (127.0.0.1:9465 by default), the
// way a resource server of a partner would expose its own.
import { once } from 'node:events';
import { createServer } from 'node:http';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { VerificationOutcome } from '@certbound/cnf-verifier';

export interface DemoMetrics {
  /** The verifier's onOutcome option. */
  onOutcome: (outcome: VerificationOutcome) => void;
  readonly registry: Registry;
}

export function createDemoMetrics(): DemoMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const verifications = new Counter({
    name: 'certbound_demo_verifications_total',
    help: 'Requests the cnf-verifier accepted or refused, by refusal code (none when accepted) and token binding (none before the claims were read).',
    labelNames: ['outcome', 'error', 'binding'],
    registers: [registry],
  });
  // Every label value comes from the verifier's closed vocabularies: the cardinality is fixed.
  const children = new Map<string, Counter.Internal>();
  return {
    registry,
    onOutcome({ outcome, error = 'none', binding = 'none' }) {
      const key = `${outcome} ${error} ${binding}`;
      let child = children.get(key);
      if (child === undefined) children.set(key, (child = verifications.labels({ outcome, error, binding })));
      child.inc();
    },
  };
}

/** GET /metrics on its own plain-HTTP listener; resolves with the port bound and a close(). */
export async function startDemoMetricsListener(metrics: DemoMetrics, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if ((req.url ?? '').split('?', 1)[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: this port serves /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('/metrics answers GET and HEAD only\n');
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
      () => res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' }).end('metrics unavailable\n'),
    );
  });
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
