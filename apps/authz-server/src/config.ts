// The one place certbound reads its environment. Every variable is validated once, at start,
// into a frozen typed object; every message names the variable and the problem.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { PROXY_HEADER_FORMATS, parseAddressRange, type ProxyHeaderFormat } from '@certbound/cnf-verifier';
import { parseDn } from './mtls/dn-string.ts';
import { REVOCATION_MODES, type RevocationMode } from './mtls/revocation/answer.ts';
import { dnPreparationProblem } from './mtls/subject-dn.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** Public HTTPS origin and the OAuth issuer identifier (RFC 8414 §2). */
  readonly issuer: string;
  /** Origin of the mutual-TLS listener, advertised as mtls_endpoint_aliases (RFC 8705 §5). */
  readonly mtlsBaseUrl: string;
  readonly host: string;
  readonly publicPort: number;
  readonly mtlsPort: number;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  /** PostgreSQL schema holding certbound's tables (default: the connection's search_path). */
  readonly databaseSchema: string | undefined;
  readonly redisUrl: string | undefined;
  /** Server certificate and key; both unset = dev PKI generated under DATA_DIR/pki. */
  readonly tlsCertFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
  /** PEM bundle of the client CAs: the only trust anchors for client certificates. */
  readonly clientCaFile: string | undefined;
  /** What an unknown revocation status does: soft allows (and logs), hard refuses; off never asks. */
  readonly revocationCheck: RevocationMode;
  /** PEM bundle of CRLs consulted for every client certificate, re-read when it changes. */
  readonly clientCrlFile: string | undefined;
  /** Deadline of one OCSP or CRL fetch. */
  readonly revocationTimeoutMs: number;
  /** How often the TLS material's files are looked at for a change (ops/reload.ts); undefined = `off`: SIGHUP only. */
  readonly tlsReloadIntervalMs: number | undefined;
  readonly keyEncryptionKey: string | undefined;
  readonly logLevel: LogLevel;
  /** Peers allowed to pass a client certificate in a header (RFC 9440 and friends). */
  readonly trustedProxies: readonly string[];
  /** The one header format TRUSTED_PROXIES pass the client certificate in; set whenever they are. */
  readonly trustedProxyHeader: ProxyHeaderFormat | undefined;
  readonly accessTokenTtl: number;
  /** STALE_IF_ERROR: seconds a cached client or resource server may be served while PostgreSQL is unreachable (0 = never). */
  readonly staleIfErrorSeconds: number;
  /** Smallest RSA modulus accepted in a client certificate chain; 2048 or more. */
  readonly clientCertMinRsaBits: number;
  /** Processes serving both listeners (cluster.ts); more than 1 only over PostgreSQL + Redis. */
  readonly workers: number;
  /** Plain-HTTP port of /metrics, /healthz and /readyz (ops/metrics-listener.ts); undefined = `off`: no listener, nothing recorded. */
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
  /** Distinct client ids reported as metric labels; every further one is reported as `other`. */
  readonly metricsMaxClients: number;
  /** FAPI 2.0 Security Profile for every client; unset = per client (`fapi_profile` metadata). */
  readonly fapiProfile: '2.0' | undefined;
  /** True when no TLS material is configured: certbound bootstraps a dev PKI and demo client. */
  readonly devBootstrap: boolean;
  /** Subject DN of the admin client's certificate, registered on first start (RFC 8705 §2.1.2). */
  readonly adminSubjectDn: string | undefined;
  /** SAN URI (e.g. a SPIFFE ID) of the admin client's certificate; exclusive with adminSubjectDn. */
  readonly adminSanUri: string | undefined;
  /** Client ids that may hold the admin API's resource (urn:certbound:admin-api); the first is registered on first start. */
  readonly adminClientIds: readonly string[];
  /** Days before a certificate's expiry at which one notice is given (ops/expiry-notices.ts), largest first. */
  readonly expiryNoticeDays: readonly number[];
  /** https URL each expiry notice is POSTed to, signed (Certbound-Signature); unset = log lines only. */
  readonly expiryWebhookUrl: string | undefined;
  /** PEM bundle the webhook receiver's certificate must chain to instead of the system store. */
  readonly expiryWebhookCaFile: string | undefined;
  /** Time between two expiry checks. */
  readonly expiryCheckIntervalMs: number;
  /** Enrollment (EST, enrollment/): the issuing CA's certificate and key (PEM or sealed); unset = dev PKI's, or enrollment off. */
  readonly issuingCaCertFile: string | undefined;
  readonly issuingCaKeyFile: string | undefined;
  /** Lifetime in seconds of an enrolled certificate (per-client override: issued_cert_ttl). */
  readonly issuedCertTtl: number;
  /** Wrong enrollment codes tried for a client before its live codes are invalidated. */
  readonly enrollmentCodeMaxFailures: number;
  /** CONSOLE: the admin console at /console and its client certbound-console (on by default). */
  readonly consoleEnabled: boolean;
  /** CONSOLE_IDLE_TIMEOUT: seconds without use after which a console session ends (its refresh token expires). */
  readonly consoleIdleTimeout: number;
  /** The Redis deployment: REDIS_URL, REDIS_SENTINELS + REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES; undefined = in-process store. */
  readonly redis: RedisTarget | undefined;
  /** REDIS_TLS_*_FILE: mutual TLS to Redis (and its sentinels); undefined = none configured. */
  readonly redisTls: StoreTlsFiles | undefined;
  /** Replicas that must acknowledge a replay record (WAIT) before the proof or assertion is accepted. */
  readonly redisWaitReplicas: number;
  /** DATABASE_SSL_*_FILE: verify-full TLS (and a client certificate) to PostgreSQL; undefined = as DATABASE_URL says. */
  readonly databaseTls: StoreTlsFiles | undefined;
}

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
}

function port(env: Env, name: string, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  // 0 asks the OS for an ephemeral port (tests); anything else must be a real TCP port.
  if (!/^\d+$/.test(raw) || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(name, `"${raw}" is not a TCP port (0-65535)`);
  }
  return value;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) {
    throw new ConfigError(name, `"${raw}" is not a positive integer`);
  }
  return Number(raw);
}

function httpsOrigin(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `"${raw}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new ConfigError(name, `"${raw}" must be an https URL`);
  if (url.search || url.hash) throw new ConfigError(name, `"${raw}" must not carry a query or fragment`);
  return raw.replace(/\/+$/, '');
}

function serviceUrl(name: string, raw: string | undefined, schemes: readonly string[]): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a URL');
  }
  if (!schemes.includes(url.protocol)) {
    throw new ConfigError(name, `scheme ${url.protocol} is not one of ${schemes.join(', ')}`);
  }
  return raw;
}

function schemaName(raw: string | undefined): string | undefined {
  if (raw !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) {
    throw new ConfigError('DATABASE_SCHEMA', `"${raw}" is not a plain lower-case SQL identifier`);
  }
  return raw;
}

function proxies(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    if (!parseAddressRange(entry)) throw new ConfigError('TRUSTED_PROXIES', `"${entry}" is not an IP address or CIDR range`);
  }
  return entries;
}

/**
 * TRUSTED_PROXY_HEADER: required with TRUSTED_PROXIES. A proxy clears the header it sets and
 * forwards every other one its client sent, so believing more than one format let anyone name
 * any certificate through it (issue 10).
 */
function trustedProxyHeader(raw: string | undefined, proxies: readonly string[]): ProxyHeaderFormat | undefined {
  const choices = PROXY_HEADER_FORMATS.join(', ');
  if (raw !== undefined && !(PROXY_HEADER_FORMATS as readonly string[]).includes(raw)) {
    throw new ConfigError('TRUSTED_PROXY_HEADER', `"${raw}" is not one of ${choices}`);
  }
  if (raw === undefined && proxies.length > 0) {
    throw new ConfigError('TRUSTED_PROXY_HEADER', `must be set when TRUSTED_PROXIES is set: the one header the proxy passes the client certificate in (${choices})`);
  }
  return raw as ProxyHeaderFormat | undefined;
}

/** RFC 8705 §2.1.2: a client registers exactly one subject matcher, so at most one of the two. */
function adminMatcher(env: Env): { adminSubjectDn: string | undefined; adminSanUri: string | undefined } {
  // Set but blank is refused rather than read as unset (as other variables are): an empty DN is
  // the subject of every SAN-only certificate, and a matcher that silently vanished would leave
  // the deployment without the admin client its operator meant to register.
  for (const name of ['ADMIN_SUBJECT_DN', 'ADMIN_SAN_URI']) {
    if (env[name] !== undefined && env[name].trim() === '') {
      throw new ConfigError(name, 'is set but empty; unset it or give the admin certificate\'s subject matcher');
    }
  }
  const adminSubjectDn = optional(env, 'ADMIN_SUBJECT_DN');
  const adminSanUri = optional(env, 'ADMIN_SAN_URI');
  if (adminSubjectDn !== undefined && adminSanUri !== undefined) {
    throw new ConfigError('ADMIN_SAN_URI', 'set ADMIN_SUBJECT_DN or ADMIN_SAN_URI, not both: a client registers exactly one subject matcher');
  }
  if (adminSubjectDn !== undefined) {
    let rdns;
    try {
      rdns = parseDn(adminSubjectDn);
    } catch (err) {
      throw new ConfigError('ADMIN_SUBJECT_DN', `"${adminSubjectDn}" is not an RFC 4514 distinguished name (${(err as Error).message})`);
    }
    // RFC 4518 §2.4: a prohibited character makes the DN match no certificate.
    const problem = dnPreparationProblem(rdns);
    if (problem !== undefined) throw new ConfigError('ADMIN_SUBJECT_DN', `${problem} (RFC 4518 §2.4); this DN could never match a certificate`);
  }
  if (adminSanUri !== undefined && !URL.canParse(adminSanUri)) {
    throw new ConfigError('ADMIN_SAN_URI', `"${adminSanUri}" is not an absolute URI`);
  }
  return { adminSubjectDn, adminSanUri };
}

/**
 * ADMIN_CLIENT_IDS: the only clients granted the admin API's resource. Each a client_id as the
 * admin API accepts one (RFC 6749 Appendix A.1 VSCHAR without space or comma); none repeated.
 */
function adminClientIds(raw: string | undefined): readonly string[] {
  if (raw === undefined) return Object.freeze(['admin']);
  const ids = raw.split(',').map((s) => s.trim());
  for (const id of ids) {
    if (!/^[\x21-\x2b\x2d-\x7e]{1,255}$/.test(id)) {
      throw new ConfigError('ADMIN_CLIENT_IDS', `"${id}" is not a client_id (1 to 255 visible ASCII characters, no space or comma)`);
    }
  }
  if (new Set(ids).size !== ids.length) throw new ConfigError('ADMIN_CLIENT_IDS', 'names a client twice');
  return Object.freeze(ids);
}

function revocationMode(raw: string | undefined): RevocationMode {
  if (raw === undefined) return 'soft';
  if (!(REVOCATION_MODES as readonly string[]).includes(raw)) throw new ConfigError('REVOCATION_CHECK', `"${raw}" is not one of ${REVOCATION_MODES.join(', ')}`);
  return raw as RevocationMode;
}

/** Path validation never accepts less than 2048 bits; the setting can only raise it. */
function minRsaBits(env: Env): number {
  const bits = positiveInt(env, 'CLIENT_CERT_MIN_RSA_BITS', 2048);
  if (bits < 2048) throw new ConfigError('CLIENT_CERT_MIN_RSA_BITS', `${bits} is below 2048: RSA keys shorter than 2048 bits are never accepted`);
  return bits;
}

/**
 * METRICS_PORT: a port (0 = ephemeral, as for the other ports: tests) or `off`, which turns
 * metrics off altogether (no listener, and the recording calls return at once). METRICS_HOST:
 * an IP address or host name, loopback by default: the page is for the operator's scraper.
 */
function metricsSettings(env: Env, publicPort: number, mtlsPort: number): Pick<Config, 'metricsPort' | 'metricsHost' | 'metricsMaxClients'> {
  const metricsPort = optional(env, 'METRICS_PORT') === 'off' ? undefined : port(env, 'METRICS_PORT', 9464);
  if (metricsPort !== undefined && metricsPort !== 0 && (metricsPort === publicPort || metricsPort === mtlsPort)) {
    throw new ConfigError('METRICS_PORT', `must differ from PUBLIC_PORT and MTLS_PORT (${metricsPort}); \`off\` turns metrics off`);
  }
  const metricsHost = optional(env, 'METRICS_HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(metricsHost)) {
    throw new ConfigError('METRICS_HOST', `"${metricsHost}" is not an IP address or host name`);
  }
  return { metricsPort, metricsHost, metricsMaxClients: positiveInt(env, 'METRICS_MAX_CLIENTS', 1000) };
}

function fapiProfile(raw: string | undefined): '2.0' | undefined {
  if (raw !== undefined && raw !== '2.0') throw new ConfigError('FAPI_PROFILE', `"${raw}" is not a supported profile (only "2.0")`);
  return raw;
}

/** EXPIRY_NOTICE_DAYS: distinct whole days, 1 to 3650, e.g. `30,7,1`; largest first. */
function expiryNoticeDays(raw: string | undefined): readonly number[] {
  if (raw === undefined) return Object.freeze([30, 7, 1]);
  const days = raw.split(',').map((s) => s.trim());
  for (const d of days) {
    if (!/^\d{1,4}$/.test(d) || Number(d) < 1 || Number(d) > 3650) throw new ConfigError('EXPIRY_NOTICE_DAYS', `"${d}" is not a number of days from 1 to 3650`);
  }
  if (new Set(days.map(Number)).size !== days.length) throw new ConfigError('EXPIRY_NOTICE_DAYS', 'names a day count twice');
  return Object.freeze(days.map(Number).sort((a, b) => b - a));
}

/** EXPIRY_WEBHOOK_URL: https only (the notice is signed, but who reads it matters too); no credentials or fragment. */
function expiryWebhookUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('EXPIRY_WEBHOOK_URL', 'is not a URL');
  }
  if (url.protocol !== 'https:') throw new ConfigError('EXPIRY_WEBHOOK_URL', `scheme ${url.protocol} is refused: must be an https URL (the receiver's certificate is always verified)`);
  if (url.username || url.password) throw new ConfigError('EXPIRY_WEBHOOK_URL', 'must not carry credentials; notices are authenticated by their Certbound-Signature header');
  if (url.hash) throw new ConfigError('EXPIRY_WEBHOOK_URL', 'must not carry a fragment');
  return url.href;
}

/** EXPIRY_CHECK_INTERVAL_MS: 1 s to 1 h. */
function expiryCheckIntervalMs(env: Env): number {
  const ms = positiveInt(env, 'EXPIRY_CHECK_INTERVAL_MS', 60_000);
  if (ms < 1000 || ms > 3_600_000) throw new ConfigError('EXPIRY_CHECK_INTERVAL_MS', `${ms} is outside 1000 to 3600000 milliseconds`);
  return ms;
}

/** TLS_RELOAD_INTERVAL_MS: 100 ms to 2 s (a change is applied within two looks, so within 5 s), or `off`. */
function tlsReloadIntervalMs(env: Env): number | undefined {
  if (optional(env, 'TLS_RELOAD_INTERVAL_MS') === 'off') return undefined;
  const ms = positiveInt(env, 'TLS_RELOAD_INTERVAL_MS', 1000);
  if (ms < 100 || ms > 2000) throw new ConfigError('TLS_RELOAD_INTERVAL_MS', `${ms} is outside 100 to 2000 milliseconds (or off: SIGHUP only)`);
  return ms;
}

/** Reads and validates the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const publicPort = port(env, 'PUBLIC_PORT', 8443);
  const mtlsPort = port(env, 'MTLS_PORT', 8444);
  if (publicPort !== 0 && publicPort === mtlsPort) {
    throw new ConfigError('MTLS_PORT', `must differ from PUBLIC_PORT (${publicPort})`);
  }

  const issuer = httpsOrigin('ISSUER', optional(env, 'ISSUER') ?? `https://localhost:${publicPort}`);
  const mtlsDefault = (() => {
    const url = new URL(issuer);
    url.port = String(mtlsPort);
    return url.origin;
  })();
  const mtlsBaseUrl = httpsOrigin('MTLS_BASE_URL', optional(env, 'MTLS_BASE_URL') ?? mtlsDefault);

  const tlsCertFile = optional(env, 'TLS_CERT_FILE');
  const tlsKeyFile = optional(env, 'TLS_KEY_FILE');
  const clientCaFile = optional(env, 'CLIENT_CA_FILE');
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    throw new ConfigError(tlsCertFile === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE',
      'TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  }
  if (tlsCertFile !== undefined && clientCaFile === undefined) {
    throw new ConfigError('CLIENT_CA_FILE', 'must be set when TLS_CERT_FILE is set: client certificates are trusted only through it');
  }

  const logLevel = (optional(env, 'LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const keyEncryptionKey = optional(env, 'KEY_ENCRYPTION_KEY');
  const databaseUrl = serviceUrl('DATABASE_URL', optional(env, 'DATABASE_URL'), ['postgres:', 'postgresql:']);
  if (keyEncryptionKey === undefined && (tlsCertFile !== undefined || databaseUrl !== undefined)) {
    // Only the dev bootstrap generates its key into DATA_DIR: there it sits next to the keys it
    // encrypts, and another instance sharing DATABASE_URL could not read them.
    const why = tlsCertFile !== undefined
      ? 'TLS_CERT_FILE is set (no dev bootstrap): a key generated into DATA_DIR would sit next to the signing keys it encrypts'
      : 'DATABASE_URL is set: a key generated into one instance\'s DATA_DIR would sit next to the keys and be unknown to the other instances';
    throw new ConfigError('KEY_ENCRYPTION_KEY', `must be set when ${why}; make one with \`openssl rand -base64 32\` (32 random bytes, base64)`);
  }

  // Workers share nothing but the stores: with an in-process store each would see its own state.
  const sharedStores = databaseUrl !== undefined && REDIS_MODES.some((name) => optional(env, name) !== undefined);
  const workers = positiveInt(env, 'WORKERS', sharedStores ? availableParallelism() : 1);
  if (workers > 1 && !sharedStores) {
    throw new ConfigError('WORKERS', `must be 1 with embedded storage (got ${workers}): workers share state only through PostgreSQL and Redis, so set DATABASE_URL and REDIS_URL`);
  }

  const trustedProxies = proxies(optional(env, 'TRUSTED_PROXIES'));
  return Object.freeze({
    issuer,
    mtlsBaseUrl,
    host: optional(env, 'HOST') ?? '127.0.0.1',
    publicPort,
    mtlsPort,
    dataDir: resolve(optional(env, 'DATA_DIR') ?? '.data'),
    databaseUrl,
    databaseSchema: schemaName(optional(env, 'DATABASE_SCHEMA')),
    redisUrl: serviceUrl('REDIS_URL', optional(env, 'REDIS_URL'), ['redis:', 'rediss:']),
    tlsCertFile,
    tlsKeyFile,
    clientCaFile,
    revocationCheck: revocationMode(optional(env, 'REVOCATION_CHECK')),
    clientCrlFile: optional(env, 'CLIENT_CRL_FILE'),
    revocationTimeoutMs: positiveInt(env, 'REVOCATION_TIMEOUT_MS', 2000),
    tlsReloadIntervalMs: tlsReloadIntervalMs(env),
    keyEncryptionKey,
    logLevel,
    trustedProxies: Object.freeze(trustedProxies),
    trustedProxyHeader: trustedProxyHeader(optional(env, 'TRUSTED_PROXY_HEADER'), trustedProxies),
    accessTokenTtl: positiveInt(env, 'ACCESS_TOKEN_TTL', 600),
    staleIfErrorSeconds: staleIfError(optional(env, 'STALE_IF_ERROR')),
    clientCertMinRsaBits: minRsaBits(env),
    workers,
    ...metricsSettings(env, publicPort, mtlsPort),
    fapiProfile: fapiProfile(optional(env, 'FAPI_PROFILE')),
    devBootstrap: tlsCertFile === undefined,
    ...adminMatcher(env),
    adminClientIds: adminClientIds(optional(env, 'ADMIN_CLIENT_IDS')),
    expiryNoticeDays: expiryNoticeDays(optional(env, 'EXPIRY_NOTICE_DAYS')),
    expiryWebhookUrl: expiryWebhookUrl(optional(env, 'EXPIRY_WEBHOOK_URL')),
    expiryWebhookCaFile: optional(env, 'EXPIRY_WEBHOOK_CA_FILE'),
    expiryCheckIntervalMs: expiryCheckIntervalMs(env),
    ...enrollmentSettings(env),
    ...consoleSettings(env),
    ...storeConnectionSettings(env, databaseUrl),
  });
}

/** STALE_IF_ERROR (issue 14): whole seconds from 0 (never serve stale) to 86400; default 300. */
function staleIfError(raw: string | undefined): number {
  if (raw === undefined) return 300;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 86_400) throw new ConfigError('STALE_IF_ERROR', `"${raw}" is not a number of seconds from 0 to 86400`);
  return Number(raw);
}

/** The admin console (issue 15): on or off, and its idle timeout, 60 seconds to 8 hours (a session's absolute limit). */
function consoleSettings(env: Env) {
  const raw = optional(env, 'CONSOLE') ?? 'on';
  if (raw !== 'on' && raw !== 'off') throw new ConfigError('CONSOLE', `"${raw}" is not on or off`);
  const consoleIdleTimeout = positiveInt(env, 'CONSOLE_IDLE_TIMEOUT', 900);
  if (consoleIdleTimeout < 60 || consoleIdleTimeout > 8 * 3600) throw new ConfigError('CONSOLE_IDLE_TIMEOUT', `${consoleIdleTimeout} is outside 60 to ${8 * 3600} seconds`);
  return { consoleEnabled: raw === 'on', consoleIdleTimeout };
}

/** Enrollment (EST): both issuing CA files or neither; a lifetime between 5 minutes and 397 days. */
function enrollmentSettings(env: Env) {
  const issuingCaCertFile = optional(env, 'ISSUING_CA_CERT_FILE');
  const issuingCaKeyFile = optional(env, 'ISSUING_CA_KEY_FILE');
  if ((issuingCaCertFile === undefined) !== (issuingCaKeyFile === undefined)) {
    const missing = issuingCaCertFile === undefined ? 'ISSUING_CA_CERT_FILE' : 'ISSUING_CA_KEY_FILE';
    throw new ConfigError(missing, 'must be set together with ' + (missing === 'ISSUING_CA_CERT_FILE' ? 'ISSUING_CA_KEY_FILE' : 'ISSUING_CA_CERT_FILE'));
  }
  const issuedCertTtl = positiveInt(env, 'ISSUED_CERT_TTL', 86_400);
  if (issuedCertTtl < 300 || issuedCertTtl > 397 * 86_400) throw new ConfigError('ISSUED_CERT_TTL', `${issuedCertTtl} is outside 300 to ${397 * 86_400} seconds`);
  const enrollmentCodeMaxFailures = positiveInt(env, 'ENROLLMENT_CODE_MAX_FAILURES', 5);
  return { issuingCaCertFile, issuingCaKeyFile, issuedCertTtl, enrollmentCodeMaxFailures };
}

// --- Store connections (issue 14 items 3 and 4): Redis Sentinel or Cluster, and mutual TLS to
// PostgreSQL and Redis. Types and their use live in storage/kv/redis-connection.ts and
// storage/store-tls.ts; this block only reads and checks the variables.

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Exactly one Redis deployment (storage/kv/redis-connection.ts connects to it). */
export type RedisTarget =
  | { readonly mode: 'url'; readonly url: string }
  | { readonly mode: 'sentinel'; readonly sentinels: readonly HostPort[]; readonly name: string }
  | { readonly mode: 'cluster'; readonly nodes: readonly HostPort[] };

/** One store's TLS files (storage/store-tls.ts reads them). */
export interface StoreTlsFiles {
  /** PEM bundle the store's certificate must chain to (instead of the system store). */
  readonly caFile: string | undefined;
  /** Client certificate (PEM, chain after the leaf) and its key; both or neither. */
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
}

/** The three ways to name Redis; exactly one may be set. */
const REDIS_MODES = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const;

/** REDIS_SENTINELS / REDIS_CLUSTER_NODES: `host:port` (IPv6 as `[addr]:port`), comma-separated, each once. */
export function hostPortList(variable: string, raw: string): HostPort[] {
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new ConfigError(variable, 'names no host:port');
  const seen = new Set<string>();
  return entries.map((entry) => {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]{1,253})):(\d{1,5})$/.exec(entry);
    const portNumber = match ? Number(match[3]) : NaN;
    if (!match || portNumber < 1 || portNumber > 65535) throw new ConfigError(variable, `"${entry}" is not host:port (port 1-65535; IPv6 as [addr]:port)`);
    const node = { host: match[1] ?? match[2] ?? '', port: portNumber };
    if (seen.has(`${node.host}:${node.port}`)) throw new ConfigError(variable, `names ${entry} twice`);
    seen.add(`${node.host}:${node.port}`);
    return node;
  });
}

/** CA, certificate and key variables of one store: the certificate and key together; undefined when none is set. */
function storeTlsFiles(env: Env, prefix: 'DATABASE_SSL' | 'REDIS_TLS'): StoreTlsFiles | undefined {
  const caFile = optional(env, `${prefix}_CA_FILE`);
  const certFile = optional(env, `${prefix}_CERT_FILE`);
  const keyFile = optional(env, `${prefix}_KEY_FILE`);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const missing = certFile === undefined ? `${prefix}_CERT_FILE` : `${prefix}_KEY_FILE`;
    throw new ConfigError(missing, `must be set together with ${certFile === undefined ? `${prefix}_KEY_FILE` : `${prefix}_CERT_FILE`}`);
  }
  if (caFile === undefined && certFile === undefined) return undefined;
  const absolute = (file: string | undefined) => (file === undefined ? undefined : resolve(file));
  return Object.freeze({ caFile: absolute(caFile), certFile: absolute(certFile), keyFile: absolute(keyFile) });
}

function storeConnectionSettings(env: Env, databaseUrl: string | undefined): Pick<Config, 'redis' | 'redisTls' | 'redisWaitReplicas' | 'databaseTls'> {
  const named = REDIS_MODES.filter((name) => optional(env, name) !== undefined);
  if (named.length > 1) throw new ConfigError(named[1] ?? 'REDIS_URL', `set only one of ${named.join(' and ')}: each names a whole Redis deployment`);
  const sentinelName = optional(env, 'REDIS_SENTINEL_NAME');
  const url = optional(env, 'REDIS_URL');
  const sentinels = optional(env, 'REDIS_SENTINELS');
  const clusterNodes = optional(env, 'REDIS_CLUSTER_NODES');
  if (sentinels !== undefined && sentinelName === undefined) throw new ConfigError('REDIS_SENTINEL_NAME', 'must be set with REDIS_SENTINELS: the name the sentinels monitor the primary under');
  if (sentinels === undefined && sentinelName !== undefined) throw new ConfigError('REDIS_SENTINEL_NAME', 'is set without REDIS_SENTINELS');
  if (sentinelName !== undefined && !/^[A-Za-z0-9._-]{1,128}$/.test(sentinelName)) throw new ConfigError('REDIS_SENTINEL_NAME', `"${sentinelName}" is not a master name (letters, digits, . _ -)`);
  let redis: RedisTarget | undefined;
  if (url !== undefined) redis = { mode: 'url', url };
  else if (sentinels !== undefined) redis = { mode: 'sentinel', sentinels: hostPortList('REDIS_SENTINELS', sentinels), name: sentinelName ?? '' };
  else if (clusterNodes !== undefined) redis = { mode: 'cluster', nodes: hostPortList('REDIS_CLUSTER_NODES', clusterNodes) };

  const redisTls = storeTlsFiles(env, 'REDIS_TLS');
  if (redisTls !== undefined && redis === undefined) throw new ConfigError('REDIS_TLS_CA_FILE', 'REDIS_TLS_* is set without REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES');
  if (redisTls !== undefined && url !== undefined && !url.startsWith('rediss:')) {
    throw new ConfigError('REDIS_URL', 'must be a rediss:// URL when REDIS_TLS_* is set: the files are for a TLS connection');
  }

  const waitRaw = optional(env, 'REDIS_WAIT_REPLICAS');
  if (waitRaw !== undefined && (!/^\d{1,2}$/.test(waitRaw) || Number(waitRaw) > 16)) throw new ConfigError('REDIS_WAIT_REPLICAS', `"${waitRaw}" is not a number of replicas from 0 to 16`);
  const redisWaitReplicas = waitRaw === undefined ? (redis?.mode === 'sentinel' ? 1 : 0) : Number(waitRaw);
  if (redisWaitReplicas > 0 && redis === undefined) throw new ConfigError('REDIS_WAIT_REPLICAS', 'is set without a Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES)');

  const databaseTls = storeTlsFiles(env, 'DATABASE_SSL');
  if (databaseTls !== undefined) {
    if (databaseUrl === undefined) throw new ConfigError('DATABASE_SSL_CA_FILE', 'DATABASE_SSL_* is set without DATABASE_URL');
    const params = [...new URL(databaseUrl).searchParams.keys()].filter((k) => /^(ssl|sslmode|sslcert|sslkey|sslrootcert|sslnegotiation)$/.test(k));
    if (params.length > 0) throw new ConfigError('DATABASE_URL', `carries ${params.join(', ')} while DATABASE_SSL_* is set: give TLS in one place (the DATABASE_SSL_* files, verify-full)`);
  }
  return { redis, redisTls, redisWaitReplicas, databaseTls };
}

/** The configuration reference: README's table and docker-compose.yml are checked against it. */
export const CONFIG_REFERENCE: ReadonlyArray<{ name: string; default: string; description: string }> = [
  { name: 'ISSUER', default: 'https://localhost:8443', description: 'Issuer identifier and public origin (discovery, JWKS).' },
  { name: 'MTLS_BASE_URL', default: 'ISSUER with MTLS_PORT', description: 'Origin of the mutual-TLS listener, published as `mtls_endpoint_aliases`.' },
  { name: 'HOST', default: '127.0.0.1', description: 'Address both listeners bind to (`0.0.0.0` in containers).' },
  { name: 'PUBLIC_PORT', default: '8443', description: 'Public listener: server-authenticated TLS only.' },
  { name: 'MTLS_PORT', default: '8444', description: 'Mutual-TLS listener: requests a client certificate (token, introspection, revocation, PAR, userinfo).' },
  { name: 'DATA_DIR', default: '.data', description: 'Embedded database, dev PKI (`pki/`) and dev key-encryption key.' },
  { name: 'DATABASE_URL', default: 'unset: embedded PGlite', description: 'PostgreSQL for clients, grants, keys and audit.' },
  { name: 'DATABASE_SCHEMA', default: 'unset: search_path', description: 'PostgreSQL schema for certbound\'s tables.' },
  { name: 'REDIS_URL', default: 'unset: in-process store', description: 'Redis for short-lived state (codes, replay detection, revocation list).' },
  { name: 'REDIS_SENTINELS', default: 'unset', description: 'Comma-separated `host:port` of Redis Sentinels, instead of REDIS_URL: certbound follows the primary they name through failovers.' },
  { name: 'REDIS_SENTINEL_NAME', default: 'unset (required with REDIS_SENTINELS)', description: 'The master name the sentinels monitor.' },
  { name: 'REDIS_CLUSTER_NODES', default: 'unset', description: 'Comma-separated `host:port` of some Redis Cluster nodes, instead of REDIS_URL (the rest are discovered).' },
  { name: 'REDIS_WAIT_REPLICAS', default: '1 with REDIS_SENTINELS, else 0', description: 'Replicas that must acknowledge a DPoP proof or client assertion record (`WAIT`, 500 ms) before it is accepted, so a failover cannot forget it; unacknowledged, the request fails closed (503).' },
  { name: 'REDIS_TLS_CA_FILE', default: 'unset: system CAs with rediss://', description: 'PEM bundle Redis\'s (and the sentinels\') certificate must chain to; the host name is checked.' },
  { name: 'REDIS_TLS_CERT_FILE', default: 'unset', description: 'Client certificate (PEM) certbound presents to Redis (`tls-auth-clients yes`); with REDIS_TLS_KEY_FILE. New connections read changed files.' },
  { name: 'REDIS_TLS_KEY_FILE', default: 'unset', description: 'Its private key (PEM).' },
  { name: 'DATABASE_SSL_CA_FILE', default: 'unset: as DATABASE_URL says', description: 'PEM bundle PostgreSQL\'s certificate must chain to; verify-full (the host name is checked). Setting any DATABASE_SSL_* turns TLS on.' },
  { name: 'DATABASE_SSL_CERT_FILE', default: 'unset', description: 'Client certificate (PEM) certbound presents to PostgreSQL (`hostssl ... cert`); with DATABASE_SSL_KEY_FILE. New connections read changed files.' },
  { name: 'DATABASE_SSL_KEY_FILE', default: 'unset', description: 'Its private key (PEM).' },
  { name: 'TLS_CERT_FILE', default: 'unset: dev PKI', description: 'Server certificate (PEM, chain after the leaf).' },
  { name: 'TLS_KEY_FILE', default: 'unset: dev PKI', description: 'Server private key (PEM).' },
  { name: 'CLIENT_CA_FILE', default: 'unset: dev CA', description: 'PEM bundle of trusted client CAs: the only trust anchors for client certificates.' },
  { name: 'REVOCATION_CHECK', default: 'soft', description: 'Client-certificate revocation (OCSP, CRL): `soft` allows a certificate whose status cannot be learned (and logs it), `hard` refuses it, `off` never asks. A revoked certificate is always refused.' },
  { name: 'CLIENT_CRL_FILE', default: 'unset', description: 'PEM bundle of CRLs consulted for every client certificate in addition to the CAs\' own sources; re-read when it changes.' },
  { name: 'REVOCATION_TIMEOUT_MS', default: '2000', description: 'Deadline of one OCSP or CRL fetch, in milliseconds.' },
  { name: 'TLS_RELOAD_INTERVAL_MS', default: '1000', description: 'How often TLS_CERT_FILE, TLS_KEY_FILE, CLIENT_CA_FILE and CLIENT_CRL_FILE are looked at for a change (100 to 2000; a change is applied within two looks); `off`: only SIGHUP reloads them.' },
  { name: 'KEY_ENCRYPTION_KEY', default: 'unset: a dev key generated into DATA_DIR', description: '32 bytes (base64 or hex) encrypting signing keys at rest (AES-256-GCM); required with TLS_CERT_FILE or DATABASE_URL (`openssl rand -base64 32`).' },
  { name: 'TRUSTED_PROXIES', default: 'unset: none', description: 'Comma-separated IPs/CIDRs allowed to pass the client certificate in a header, in the one format TRUSTED_PROXY_HEADER names.' },
  { name: 'TRUSTED_PROXY_HEADER', default: 'unset (required with TRUSTED_PROXIES)', description: '`client-cert` (RFC 9440 `Client-Cert`), `xfcc` (Envoy `x-forwarded-client-cert`, exactly one element) or `nginx` (`X-SSL-Client-Cert: $ssl_client_escaped_cert`); from a trusted proxy, a header of either other format is refused (400 `invalid_request`). See "Behind a TLS-terminating proxy".' },
  { name: 'CLIENT_CERT_MIN_RSA_BITS', default: '2048', description: 'Smallest RSA key (bits) accepted anywhere in a client certificate chain; can only be raised. EC keys must be on P-256, P-384 or P-521, or Ed25519.' },
  { name: 'ACCESS_TOKEN_TTL', default: '600', description: 'Access-token lifetime in seconds when the resource server sets none.' },
  { name: 'STALE_IF_ERROR', default: '300', description: 'Seconds (0 to 86400) a client or resource server this instance read before may still be served from its cache while PostgreSQL is unreachable, so known clients keep getting tokens; 0: never. Invalidations still apply; requests that need the database get 503 `temporarily_unavailable` with Retry-After.' },
  { name: 'WORKERS', default: 'CPU cores with DATABASE_URL and REDIS_URL, else 1', description: 'Worker processes sharing both listeners; more than 1 needs PostgreSQL and Redis (embedded storage is single-process).' },
  { name: 'METRICS_PORT', default: '9464', description: 'Plain-HTTP port of `/metrics` (Prometheus, aggregated across workers), `/healthz` and `/readyz`; `off` turns metrics off (no listener, nothing recorded).' },
  { name: 'METRICS_HOST', default: '127.0.0.1', description: 'Address the metrics port binds to; it has no authentication, so only where the scraper reaches it.' },
  { name: 'METRICS_MAX_CLIENTS', default: '1000', description: 'Distinct client ids reported as metric labels; every further client is reported as `other`.' },
  { name: 'LOG_LEVEL', default: 'info', description: 'fatal, error, warn, info, debug, trace or silent.' },
  { name: 'FAPI_PROFILE', default: 'unset: per client', description: '`2.0` applies the FAPI 2.0 Security Profile to every client (PAR, PKCE S256, sender-constrained tokens, no public clients); unset, a client opts in with `fapi_profile: "2.0"`.' },
  { name: 'ADMIN_SUBJECT_DN', default: 'unset: dev PKI admin.pem', description: 'Subject DN of the admin client certificate; the first client of `ADMIN_CLIENT_IDS` (default `admin`) is registered with it on first start (`/admin/v1`).' },
  { name: 'ADMIN_SAN_URI', default: 'unset', description: 'SAN URI (e.g. SPIFFE ID) of the admin client certificate, instead of ADMIN_SUBJECT_DN.' },
  { name: 'ADMIN_CLIENT_IDS', default: 'admin', description: 'Comma-separated client ids that may hold the admin API\'s resource `urn:certbound:admin-api`; no other client can be registered with it or get a token for it. The first is the client registered on first start.' },
  { name: 'EXPIRY_NOTICE_DAYS', default: '30,7,1', description: 'Days before expiry at which each client certificate (registered or seen at authentication), the server certificate and each client CA gets one notice (a `certificate_expiry_notice` log line, and the webhook), once across all instances; an expired one gets a last notice (threshold 0).' },
  { name: 'EXPIRY_WEBHOOK_URL', default: 'unset: log lines only', description: 'https URL each expiry notice is POSTed to as JSON, signed `Certbound-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">` with a key derived from KEY_ENCRYPTION_KEY; retried with back-off until delivered.' },
  { name: 'EXPIRY_WEBHOOK_CA_FILE', default: 'unset: system CAs', description: 'PEM bundle the webhook receiver\'s certificate must chain to (a private CA), instead of the system store.' },
  { name: 'ISSUING_CA_CERT_FILE', default: 'unset: dev PKI issuing-ca.pem, else enrollment off', description: 'Certificate (PEM) of the intermediate CA that enrollment (EST, `/.well-known/est/`) issues client certificates from, optionally followed by the certificates above it; never a root. Unset without a dev PKI: the EST endpoints answer 404.' },
  { name: 'ISSUING_CA_KEY_FILE', default: 'unset: dev PKI issuing-ca-key.pem', description: 'Its private key: a PEM file the operator protects (mode 0600), or the PEM sealed under KEY_ENCRYPTION_KEY (a `CERTBOUND SEALED PRIVATE KEY` block made by `KEY_ENCRYPTION_KEY=... node_modules/.bin/node apps/authz-server/src/enrollment/seal-key.ts < key.pem > key.sealed`; the sealed key opens only with that KEY_ENCRYPTION_KEY).' },
  { name: 'ISSUED_CERT_TTL', default: '86400', description: 'Lifetime in seconds (300 to 397 days) of an enrolled client certificate; a client\'s `issued_cert_ttl` metadata overrides it.' },
  { name: 'ENROLLMENT_CODE_MAX_FAILURES', default: '5', description: 'Wrong enrollment codes tried for a client at `simpleenroll` before all its unused codes are invalidated.' },
  { name: 'CONSOLE', default: 'on', description: '`on`: the admin console at `/console` on the public listener, for people with the `admin` role, and its public client `certbound-console` (registered at start); `off`: neither; the client is disabled, and `/admin/v1` answers only on the mutual-TLS listener.' },
  { name: 'CONSOLE_IDLE_TIMEOUT', default: '900', description: 'Seconds (60 to 28800) without use after which a console session ends: its DPoP-bound refresh token expires, and the page signs out by itself. A session lasts 8 hours at most.' },
  { name: 'EXPIRY_CHECK_INTERVAL_MS', default: '60000', description: 'Time between two expiry checks (1000 to 3600000); a certificate added through /admin/v1 is checked at once.' },
];
