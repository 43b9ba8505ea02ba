// Process entry of the demo resource server: its own TLS listener that requests, but does not
// require, a client certificate; the verifier fetches the authorization server's JWKS over
// verified TLS (the dev CA in the dev setup).
import { readFile, access } from 'node:fs/promises';
import { createServer } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { createVerifier, createMemoryReplayStore, createRedisReplayStore, type ReplayStore } from '@certbound/cnf-verifier';
import { loadDemoConfig, type DemoConfig } from './config.ts';
import { createDemoApp } from './app.ts';
import { createDemoLogger } from './log.ts';
import { createDemoMetrics, startDemoMetricsListener } from './metrics.ts';

/** In the dev setup the authorization server creates the PKI; wait for it rather than race it. */
async function waitForFiles(files: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = (await Promise.all(files.map((f) => access(f).then(() => null, () => f)))).filter(Boolean);
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`missing ${missing.join(', ')} (set DEMO_TLS_CERT_FILE, DEMO_TLS_KEY_FILE and DEMO_CA_FILE)`);
    await sleep(200);
  }
}

const logger = createDemoLogger();

export async function startDemo(config: DemoConfig) {
  await waitForFiles([config.tlsCertFile, config.tlsKeyFile, config.caFile]);
  const [cert, key, ca] = await Promise.all([
    readFile(config.tlsCertFile, 'utf8'), readFile(config.tlsKeyFile, 'utf8'), readFile(config.caFile, 'utf8'),
  ]);
  let redis: { quit(): Promise<unknown> } | undefined;
  // One instance: the in-memory store, which refuses new proofs (503) rather than forget live ones.
  let replayStore: ReplayStore = createMemoryReplayStore({ maxEntries: config.replayMaxEntries });
  if (config.redisUrl) {
    const { Redis } = await import('ioredis');
    const client = new Redis(config.redisUrl);
    redis = client;
    replayStore = createRedisReplayStore(client, { prefix: 'demo-dpop-jti:' });
  }
  // Listen first: the external origin (RFC 9449 §4.3 htu) defaults to the port actually bound.
  // Request a certificate, never require one: a DPoP client has none, and a refusal must be an
  // HTTP answer the client can read. No `ca`: the verifier compares thumbprints, not chains.
  const server = createServer({ cert, key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const externalOrigin = config.externalUrl ?? `https://localhost:${port}`;
  const metrics = createDemoMetrics();
  const metricsListener = config.metricsPort === undefined ? undefined : await startDemoMetricsListener(metrics, config.metricsHost, config.metricsPort);
  const verifier = createVerifier({
    issuer: config.issuer,
    audience: config.audience,
    jwks: { url: config.jwksUri, ca },
    mode: config.mode,
    trustedProxies: config.trustedProxies,
    proxyHeader: config.trustedProxyHeader,
    // htu is compared with this origin and the request path, never with the Host header.
    origin: externalOrigin,
    dpop: { replayStore },
    // Counts every verdict for the demo's /metrics (the hook a partner's resource server would use).
    onOutcome: metrics.onOutcome,
  });
  const handle = createDemoApp({ verifier, logger }).callback();
  server.on('request', (req, res) => {
    void handle(req, res); // Koa answers its own errors: the promise does not reject
  });
  logger.info({
    event: 'listening', url: `https://${config.host}:${port}`, external_url: externalOrigin, audience: config.audience, mode: config.mode,
    ...(metricsListener ? { metrics: `http://${config.metricsHost}:${metricsListener.port}/metrics` } : {}),
  }, 'settlement API listening');
  return {
    port,
    metricsPort: metricsListener?.port,
    async close() {
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeIdleConnections(); });
      await metricsListener?.close();
      await redis?.quit();
    },
  };
}

/**
 * Next to the authorization server (`npm start` hands both the same environment), the issuer
 * follows its ISSUER, else its PUBLIC_PORT; DEMO_ISSUER still overrides. The JWKS URI follows
 * the issuer and the audience DEMO_PORT (config.ts).
 */
export function withDevDefaults(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.DEMO_ISSUER?.trim()) return env;
  const issuer = env.ISSUER?.trim() || `https://localhost:${env.PUBLIC_PORT?.trim() || '8443'}`;
  return { ...env, DEMO_ISSUER: issuer.replace(/\/+$/, '') };
}

if (import.meta.main) {
  let config: DemoConfig;
  try {
    config = loadDemoConfig(withDevDefaults(process.env));
  } catch (err) {
    process.stderr.write(`resource-server-demo: configuration error: ${(err as Error).message}\n`);
    process.exit(78);
  }
  const demo = await startDemo(config).catch((err: Error) => {
    process.stderr.write(`resource-server-demo: failed to start: ${err.message}\n`);
    process.exit(1);
  });
  const stop = () => {
    void demo.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
