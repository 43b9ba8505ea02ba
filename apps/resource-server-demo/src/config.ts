// The demo resource server's environment, read and validated once. Dev defaults line up with
// the authorization server's dev bootstrap: its PKI under DATA_DIR/pki and its issuer.
import { join, resolve } from 'node:path';
import { PROXY_HEADER_FORMATS, type ProxyHeaderFormat } from '@certbound/cnf-verifier';

export interface DemoConfig {
  readonly host: string;
  readonly port: number;
  readonly issuer: string;
  readonly jwksUri: string;
  readonly audience: string;
  /**
   * The origin clients call (RFC 9449 §4.3 htu is compared against it, never against the Host
   * header); undefined = https://localhost:<the port it listens on>.
   */
  readonly externalUrl: string | undefined;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  /** Trust anchors for the authorization server's TLS certificate (the JWKS fetch). */
  readonly caFile: string;
  readonly mode: 'strict' | 'permissive';
  readonly trustedProxies: readonly string[];
  /** The one certificate header format the trusted proxies set (the verifier's `proxyHeader`). */
  readonly trustedProxyHeader: ProxyHeaderFormat | undefined;
  readonly redisUrl: string | undefined;
  /** Without Redis: how many unexpired DPoP proofs the in-memory replay store holds before it answers 503. */
  readonly replayMaxEntries: number;
  /** Plain-HTTP port of the demo's /metrics (0 = ephemeral); undefined = `off`. */
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
}

function value(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const dataDir = resolve(value(env, 'DATA_DIR') ?? '.data');
  const portRaw = value(env, 'DEMO_PORT') ?? '9443';
  if (!/^\d+$/.test(portRaw) || Number(portRaw) > 65535) throw new Error(`DEMO_PORT: "${portRaw}" is not a TCP port`);
  const port = Number(portRaw);
  const issuer = value(env, 'DEMO_ISSUER') ?? 'https://localhost:8443';
  const mode = value(env, 'DEMO_MODE') ?? 'strict';
  if (mode !== 'strict' && mode !== 'permissive') throw new Error(`DEMO_MODE: "${mode}" is not strict or permissive`);
  for (const name of ['DEMO_ISSUER', 'DEMO_JWKS_URI', 'DEMO_AUDIENCE', 'DEMO_EXTERNAL_URL']) {
    const raw = value(env, name);
    if (raw !== undefined && !URL.canParse(raw)) throw new Error(`${name}: "${raw}" is not a URL`);
  }
  const trustedProxies = (value(env, 'TRUSTED_PROXIES') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const trustedProxyHeader = value(env, 'TRUSTED_PROXY_HEADER');
  if (trustedProxyHeader !== undefined && !(PROXY_HEADER_FORMATS as readonly string[]).includes(trustedProxyHeader)) {
    throw new Error(`TRUSTED_PROXY_HEADER: "${trustedProxyHeader}" is not one of ${PROXY_HEADER_FORMATS.join(', ')}`);
  }
  if (trustedProxyHeader === undefined && trustedProxies.length > 0) {
    throw new Error(`TRUSTED_PROXY_HEADER: must be set when TRUSTED_PROXIES is set (${PROXY_HEADER_FORMATS.join(', ')})`);
  }
  const externalUrl = value(env, 'DEMO_EXTERNAL_URL')?.replace(/\/+$/, '');
  if (externalUrl !== undefined && new URL(externalUrl).origin !== externalUrl) {
    throw new Error(`DEMO_EXTERNAL_URL: "${externalUrl}" must be an origin (scheme, host and port; no path)`);
  }
  const replayRaw = value(env, 'DEMO_DPOP_REPLAY_MAX_ENTRIES') ?? '100000';
  if (!/^[1-9]\d{0,8}$/.test(replayRaw)) throw new Error(`DEMO_DPOP_REPLAY_MAX_ENTRIES: "${replayRaw}" is not a positive integer`);
  const metricsRaw = value(env, 'DEMO_METRICS_PORT') ?? '9465';
  if (metricsRaw !== 'off' && !(/^\d+$/.test(metricsRaw) && Number(metricsRaw) <= 65535)) throw new Error(`DEMO_METRICS_PORT: "${metricsRaw}" is not a TCP port or off`);
  return Object.freeze({
    host: value(env, 'DEMO_HOST') ?? '127.0.0.1',
    port,
    issuer,
    jwksUri: value(env, 'DEMO_JWKS_URI') ?? `${issuer}/jwks`,
    audience: value(env, 'DEMO_AUDIENCE') ?? `https://localhost:${port}`,
    externalUrl,
    tlsCertFile: value(env, 'DEMO_TLS_CERT_FILE') ?? join(dataDir, 'pki', 'server.pem'),
    tlsKeyFile: value(env, 'DEMO_TLS_KEY_FILE') ?? join(dataDir, 'pki', 'server-key.pem'),
    caFile: value(env, 'DEMO_CA_FILE') ?? join(dataDir, 'pki', 'ca.pem'),
    mode,
    trustedProxies: Object.freeze(trustedProxies),
    trustedProxyHeader: trustedProxyHeader as ProxyHeaderFormat | undefined,
    redisUrl: value(env, 'REDIS_URL'),
    replayMaxEntries: Number(replayRaw),
    metricsPort: metricsRaw === 'off' ? undefined : Number(metricsRaw),
    metricsHost: value(env, 'DEMO_METRICS_HOST') ?? '127.0.0.1',
  });
}
