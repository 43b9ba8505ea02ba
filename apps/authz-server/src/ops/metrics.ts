// certbound's Prometheus metrics (issue 12 item 1): one prom-client registry per process, and the
// few cheap recording functions the hot path calls (oidc/errors.ts, mtls/connection-verdict.ts,
// mtls/revocation/checker.ts). Until main.ts enables them (METRICS_PORT not `off`) every
// recording function returns at once and no process metric is collected, so "metrics off" costs
// one boolean test per call.
//
// Hot path: a recording call bumps a number found through one Map per label value; the prom-client
// counters are brought up to date from those tallies when Prometheus scrapes (collect()), so no
// label object is built per request. Client ids are bounded: beyond METRICS_MAX_CLIENTS distinct
// ids every further one is reported as `other`. Everything else that becomes a label comes from a
// closed set (a check code, an OAuth error code, a listener name), never from the request.
//
// This file imports nothing of certbound: the rooms it observes import it (no cycle).
import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CERTIFICATE_AUTH_METHODS } from '../oidc/vocabulary.ts';

/** The label a client id beyond the cap is reported under. */
export const OTHER_CLIENTS = 'other';
/** The client_id label of a refusal before any registered client was found. */
export const UNKNOWN_CLIENT = 'unknown';

/** Grant types oidc-provider may be asked for; any other value of grant_type is reported as `other`. */
const GRANT_TYPES: ReadonlySet<string> = new Set([
  'client_credentials', 'authorization_code', 'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code', 'urn:openid:params:grant-type:ciba', 'urn:ietf:params:oauth:grant-type:token-exchange',
]);

/** The name of every metric certbound defines (deploy/'s alerts and dashboard query only these). */
export const METRIC_NAMES = Object.freeze({
  CLIENT_CERTIFICATE_EXPIRY: 'certbound_client_certificate_expiry_timestamp_seconds',
  SERVER_CERTIFICATE_EXPIRY: 'certbound_server_certificate_expiry_timestamp_seconds',
  TRUST_ANCHOR_EXPIRY: 'certbound_trust_anchor_expiry_timestamp_seconds',
  TOKEN_REQUESTS: 'certbound_token_requests_total',
  TLS_CLIENT_CERTIFICATES: 'certbound_tls_client_certificates_total',
  REVOCATION_CHECKS: 'certbound_revocation_checks_total',
  DPOP_PROOFS: 'certbound_dpop_proofs_total',
  STORE_OPERATION_DURATION: 'certbound_store_operation_duration_seconds',
  STORE_ERRORS: 'certbound_store_errors_total',
} as const);

/** Where the scrape reads the registered client certificates (storage/postgres/client-certificates.ts). */
export interface RegisteredCertificate {
  readonly client_id: string;
  readonly x5t_s256: string;
  readonly not_after: Date;
}

export interface MetricsSources {
  /** Every active registered client certificate with a notAfter, read at scrape time. */
  registeredCertificates?: () => Promise<readonly RegisteredCertificate[]>;
  /** The server certificate's PEM (leaf first), read at scrape time: a reload shows at once. */
  serverCertificate?: () => string | undefined;
  /** The client trust anchors, read at scrape time. */
  trustAnchors?: () => readonly X509Certificate[];
  /** Where a failing source is reported (once per failure streak). */
  onSourceError?: (source: string, err: Error) => void;
}

/** How long a scrape waits for the registered certificates before reporting the last ones read. */
const SOURCE_DEADLINE_MS = 2000;

interface TallyEntry {
  readonly labels: Record<string, string>;
  count: number;
  flushed: number;
}

/**
 * Counts per combination of up to four label values, flushed into a prom-client Counter at scrape
 * time. One nested Map level per label: counting a combination seen before allocates nothing (no
 * key string, no label object, no closure).
 */
type Level3 = Map<string, TallyEntry>;
type Level2 = Map<string, Level3>;
type Level1 = Map<string, Level2>;

class Tally {
  private readonly root = new Map<string, Level1>();
  private readonly entries: TallyEntry[] = [];
  private readonly names: readonly string[];

  constructor(names: readonly string[]) {
    this.names = names;
  }

  /** One more of these values, in the order of the label names; the labels a tally lacks are ''. */
  add(a: string, b = '', c = '', d = ''): void {
    let l1 = this.root.get(a);
    if (l1 === undefined) this.root.set(a, (l1 = new Map<string, Level2>()));
    let l2 = l1.get(b);
    if (l2 === undefined) l1.set(b, (l2 = new Map<string, Level3>()));
    let l3 = l2.get(c);
    if (l3 === undefined) l2.set(c, (l3 = new Map<string, TallyEntry>()));
    let entry = l3.get(d);
    if (entry === undefined) {
      const values = [a, b, c, d];
      entry = { labels: Object.fromEntries(this.names.map((name, i) => [name, values[i]])), count: 0, flushed: 0 };
      l3.set(d, entry);
      this.entries.push(entry);
    }
    entry.count++;
  }

  flush(counter: Counter<string>): void {
    for (const entry of this.entries) {
      if (entry.count === entry.flushed) continue;
      counter.inc(entry.labels, entry.count - entry.flushed);
      entry.flushed = entry.count;
    }
  }

  clear(): void {
    this.root.clear();
    this.entries.length = 0;
  }
}

/** Client ids as labels: the first `max` distinct ids keep their name, any later one is `other`. */
class ClientLabels {
  private readonly known = new Set<string>();
  max: number;
  constructor(max: number) {
    this.max = max;
  }

  label(clientId: string): string {
    if (this.known.has(clientId)) return clientId;
    if (this.known.size >= this.max) return OTHER_CLIENTS;
    this.known.add(clientId);
    return clientId;
  }

  clear(): void {
    this.known.clear();
  }
}

const registry = new Registry();
let enabled = false;
let defaultMetricsStarted = false;
let sources: MetricsSources = {};
const clients = new ClientLabels(1000);
/** client label -> the certificate it last authenticated a token request with */
const lastAuthenticated = new Map<string, { x5t: string; notAfter: number }>();
let registeredRead: readonly RegisteredCertificate[] = [];
let sourceFailing = false;

const tokenTally = new Tally(['client_id', 'grant_type', 'outcome', 'reason']);
const tlsTally = new Tally(['listener', 'outcome', 'reason']);
const revocationTally = new Tally(['source', 'outcome']);
const dpopTally = new Tally(['outcome']);

const seconds = (ms: number) => Math.floor(ms / 1000);

async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

new Gauge({
  name: METRIC_NAMES.CLIENT_CERTIFICATE_EXPIRY,
  help: 'notAfter (Unix seconds) of every registered client certificate and, per client, of the certificate it last authenticated with.',
  labelNames: ['client_id', 'x5t'],
  registers: [registry],
  // Every worker reads the same registered rows; a client's last certificate is the newest any worker saw.
  aggregator: 'max',
  async collect() {
    if (sources.registeredCertificates) {
      try {
        registeredRead = await withDeadline(sources.registeredCertificates(), SOURCE_DEADLINE_MS, 'the client certificate listing');
        sourceFailing = false;
      } catch (err) {
        // The last rows read are still the truth about expiry; the store's state is /readyz's job.
        if (!sourceFailing) sources.onSourceError?.('client_certificates', err as Error);
        sourceFailing = true;
      }
    }
    const values = new Map<string, { labels: { client_id: string; x5t: string }; value: number }>();
    const put = (clientId: string, x5t: string, value: number) => {
      const client_id = clients.label(clientId);
      // Folded clients report one series: their soonest expiry, which is what an alert needs.
      const labels = { client_id, x5t: client_id === OTHER_CLIENTS ? OTHER_CLIENTS : x5t };
      const key = `${labels.client_id}\u0000${labels.x5t}`;
      const seen = values.get(key);
      if (seen === undefined || (client_id === OTHER_CLIENTS && value < seen.value)) values.set(key, { labels, value });
    };
    for (const row of registeredRead) put(row.client_id, row.x5t_s256, seconds(row.not_after.getTime()));
    for (const [client, last] of lastAuthenticated) put(client, last.x5t, seconds(last.notAfter));
    // Reset and refill with no await between: a concurrent scrape never sees half a set.
    this.reset();
    for (const { labels, value } of values.values()) this.set(labels, value);
  },
});

new Gauge({
  name: METRIC_NAMES.SERVER_CERTIFICATE_EXPIRY,
  help: 'notAfter (Unix seconds) of the TLS server certificate both listeners present.',
  registers: [registry],
  aggregator: 'max',
  collect() {
    this.reset();
    const pem = sources.serverCertificate?.();
    if (pem === undefined) return;
    try {
      this.set(seconds(new X509Certificate(pem).validToDate.getTime()));
    } catch {
      // unreadable: no sample, rather than a wrong one (the listeners refuse such material at start)
    }
  },
});

new Gauge({
  name: METRIC_NAMES.TRUST_ANCHOR_EXPIRY,
  help: 'notAfter (Unix seconds) of each CA of CLIENT_CA_FILE (self-signed roots and the intermediates it holds) trusted for client certificates.',
  labelNames: ['subject'],
  registers: [registry],
  aggregator: 'max',
  collect() {
    this.reset();
    for (const anchor of sources.trustAnchors?.() ?? []) {
      this.set({ subject: anchor.subject.split('\n').reverse().join(',') }, seconds(anchor.validToDate.getTime()));
    }
  },
});

new Counter({
  name: METRIC_NAMES.TOKEN_REQUESTS,
  help: 'Token endpoint requests by client, grant type and outcome; reason is the failed check\'s code (oidc/errors.ts) or the OAuth error.',
  labelNames: ['client_id', 'grant_type', 'outcome', 'reason'],
  registers: [registry],
  collect() {
    tokenTally.flush(this);
  },
});

new Counter({
  name: METRIC_NAMES.TLS_CLIENT_CERTIFICATES,
  help: 'Client certificate verdicts: per TLS connection on the mutual-TLS listener, per request for a certificate a trusted proxy passed.',
  labelNames: ['listener', 'outcome', 'reason'],
  registers: [registry],
  collect() {
    tlsTally.flush(this);
  },
});

new Counter({
  name: METRIC_NAMES.REVOCATION_CHECKS,
  help: 'Revocation answers by source (ocsp, crl, crl-file) and outcome (good, revoked, unknown, error, invalid, cache-hit, store-hit).',
  labelNames: ['source', 'outcome'],
  registers: [registry],
  collect() {
    revocationTally.flush(this);
  },
});

new Counter({
  name: METRIC_NAMES.DPOP_PROOFS,
  help: 'Requests carrying a DPoP proof, by outcome: accepted, invalid (invalid_dpop_proof) or nonce_required (use_dpop_nonce).',
  labelNames: ['outcome'],
  registers: [registry],
  collect() {
    dpopTally.flush(this);
  },
});

const storeDuration = new Histogram({
  name: METRIC_NAMES.STORE_OPERATION_DURATION,
  help: 'Latency of PostgreSQL (or PGlite) and Redis (or the in-process store) operations, failed ones included.',
  labelNames: ['store', 'operation'],
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

const storeErrors = new Counter({
  name: METRIC_NAMES.STORE_ERRORS,
  help: 'Failures of PostgreSQL or Redis operations and connections because the store was unreachable, by cause (refused, lost, timeout, ...): storage/outage.ts.',
  labelNames: ['store', 'cause'],
  registers: [registry],
});

/** The process's registry (the metrics listener serves it; the cluster primary aggregates the workers'). */
export function metricsRegistry(): Registry {
  return registry;
}

export function metricsEnabled(): boolean {
  return enabled;
}

/** Turns recording on (main.ts, when METRICS_PORT is not `off`) with where the scrape reads certificates. */
export function enableMetrics(options: { maxClients: number } & MetricsSources): void {
  // Process and event-loop metrics (GC durations, event-loop delay): started only with metrics on,
  // so METRICS_PORT=off observes nothing at all.
  if (!defaultMetricsStarted) collectDefaultMetrics({ register: registry });
  defaultMetricsStarted = true;
  enabled = true;
  clients.max = options.maxClients;
  sources = options;
}

/** Back to the state of a fresh process (tests). */
export function resetMetrics(): void {
  enabled = false;
  sources = {};
  clients.clear();
  lastAuthenticated.clear();
  registeredRead = [];
  for (const tally of [tokenTally, tlsTally, revocationTally, dpopTally]) tally.clear();
  registry.resetMetrics();
}

// ---------------------------------------------------------------------------------------------
// Recording. Each is one call from its room; each returns at once when metrics are off.

/** The shape of oidc/errors.ts's Koa context that the token and DPoP counters read. */
interface AnsweredRequest {
  readonly path: string;
  readonly status: number;
  readonly state: Record<string, unknown>;
  readonly oidc?: unknown;
  readonly req: { readonly headers: IncomingHttpHeaders };
}

interface OidcView {
  route?: string;
  client?: { clientId?: string; clientAuthMethod?: string };
  params?: { grant_type?: unknown };
}

/** Clients whose authentication is their certificate (RFC 8705 §2.1, §2.2). */

/**
 * Called by oidc/errors.ts's refusal reporter once per answered request of oidc-provider's routes,
 * with the request's refusal (undefined when it succeeded). Counts token requests, DPoP proofs,
 * and remembers the certificate a certificate-authenticated client got a token with.
 */
export function recordOAuthAnswer(ctx: AnsweredRequest, err: { error: string; check?: string } | undefined): void {
  if (!enabled) return;
  const oidc = ctx.oidc as OidcView | undefined;
  if (ctx.req.headers.dpop !== undefined) {
    const outcome = err === undefined ? 'accepted' : err.error === 'invalid_dpop_proof' ? 'invalid' : err.error === 'use_dpop_nonce' ? 'nonce_required' : undefined;
    if (outcome !== undefined) dpopTally.add(outcome);
  }
  if (oidc?.route !== 'token' && !(oidc === undefined && ctx.path.endsWith('/token'))) return;
  const clientId = oidc?.client?.clientId;
  const client = clientId === undefined ? UNKNOWN_CLIENT : clients.label(clientId);
  const asked = oidc?.params?.grant_type;
  const grant = typeof asked === 'string' && GRANT_TYPES.has(asked) ? asked : asked === undefined ? 'none' : 'other';
  const succeeded = err === undefined && ctx.status < 400;
  const outcome = succeeded ? 'success' : 'refused';
  const reason = succeeded ? 'none' : err?.check ?? err?.error ?? 'unknown';
  tokenTally.add(client, grant, outcome, reason);
  if (succeeded && clientId !== undefined && CERTIFICATE_AUTH_METHODS.has(oidc?.client?.clientAuthMethod ?? '')) {
    const presented = (ctx.state.clientCertificate as { presented?: { thumbprint: string; leaf: X509Certificate } } | undefined)?.presented;
    if (presented !== undefined) {
      lastAuthenticated.set(client, { x5t: client === OTHER_CLIENTS ? OTHER_CLIENTS : presented.thumbprint, notAfter: presented.leaf.validToDate.getTime() });
    }
  }
}

/**
 * Called by mtls/connection-verdict.ts with a verdict bound to a new TLS connection (`mtls`) or
 * computed for a certificate a trusted proxy passed (`proxy`); returns the same promise.
 */
export function recordCertificateVerdict<V extends { ok: boolean; code?: string }>(listener: 'mtls' | 'proxy', verdict: Promise<V>): Promise<V> {
  if (!enabled) return verdict;
  void verdict.then((v) => {
    const outcome = v.ok ? 'accepted' : 'refused';
    const reason = v.ok ? 'none' : v.code ?? 'unknown';
    tlsTally.add(listener, outcome, reason);
  }, () => undefined);
  return verdict;
}

/** A TLS connection on the mutual-TLS listener that presented no certificate (ops/health.ts's middleware sees it). */
export function recordNoCertificate(): void {
  if (!enabled) return;
  tlsTally.add('mtls', 'absent', 'no_certificate');
}

const REVOCATION_SOURCES = new Set(['ocsp', 'crl', 'crl-file']);

/** Called by mtls/revocation/checker.ts's tally with its counter name, `source:outcome` (others ignored). */
export function recordRevocationEvent(name: string): void {
  if (!enabled) return;
  const colon = name.indexOf(':');
  const source = name.slice(0, colon);
  if (!REVOCATION_SOURCES.has(source)) return;
  const outcome = name.slice(colon + 1);
  revocationTally.add(source, outcome);
}

/** One store operation took `ms` (ops/store-timing.ts). */
export function recordStoreLatency(store: string, operation: string, ms: number): void {
  if (enabled) storeDuration.observe({ store, operation }, ms / 1000);
}

/** One store failure because the store was unreachable (storage/outage-log.ts counts each one). */
export function recordStoreError(store: string, cause: string): void {
  if (enabled) storeErrors.inc({ store, cause });
}
