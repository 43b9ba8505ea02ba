// GET /mtls/check[?client_id=]: a partner's self-service "why did my handshake fail?" before
// production. On the mutual-TLS listener only, mounted before oidc-provider's stack (no
// token-endpoint middleware runs, nothing is issued), it reads the certificate exactly where the
// token endpoint does (the TLS peer, or the one configured proxy header) and answers 200 with
// mtls/diagnosis.ts's steps — the same checks, in the same functions, as the token endpoint.
// "No certificate" is a 200 whose `presented` step fails: the listener requests a certificate but
// never requires one. Rate-limited per peer address (storage/kv/rate-limits.ts): 429 with
// Retry-After; a rate-limit or client store that is down gets 503 with Retry-After.
import type { Middleware, ParameterizedContext } from 'koa';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { PresentedCertificate } from '@certbound/cnf-verifier';
import { listenerOf } from '../http/listeners.ts';
import type { Logger } from '../log.ts';
import { diagnose, type ClientRegistration } from '../mtls/diagnosis.ts';
import type { RevocationChecker } from '../mtls/revocation/index.ts';
import type { TrustStore } from '../mtls/trust-store.ts';
import type { RateLimits } from '../storage/kv/rate-limits.ts';

export const MTLS_CHECK_PATH = '/mtls/check';

export interface MtlsCheckDeps {
  /** the token endpoint's certificate source (@certbound/cnf-verifier createCertificateSource) */
  source: { fromRequest(req: IncomingMessage): PresentedCertificate | undefined };
  /** the configured client CAs as they are now (a reload may replace them) */
  trustStore: () => TrustStore;
  /** the server's revocation checker: its caches are the token endpoint's */
  revocation?: RevocationChecker;
  minRsaBits?: number;
  rateLimits: RateLimits;
  /** the client's metadata as the token endpoint sees it (the Client adapter); undefined = unknown or disabled */
  findClient(clientId: string): Promise<ClientRegistration | undefined | void>;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** checks per peer address per window; default 30 per 60 s */
  limit?: { points: number; windowSeconds: number };
  now?: () => Date;
}

const RETRY_AFTER_STORE_DOWN = 5;
/** RFC 7591 does not bound client_id; the admin API's limit is far below this. */
const MAX_CLIENT_ID_LENGTH = 1024;

class CheckRefused extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | undefined;
  constructor(status: number, code: string, description: string, retryAfter?: number) {
    super(description);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function createMtlsCheck(deps: MtlsCheckDeps): Middleware {
  const { points, windowSeconds } = deps.limit ?? { points: 30, windowSeconds: 60 };
  const counter = deps.rateLimits.counter('mtls-check');
  const now = deps.now ?? (() => new Date());
  // A store that is down is logged once a minute, not once a request (DESIGN.md: bounded lines).
  let storeDownLoggedAt = -Infinity;

  const storeDown = (store: string, err: unknown): CheckRefused => {
    if (Date.now() - storeDownLoggedAt >= 60_000) {
      storeDownLoggedAt = Date.now();
      deps.logger.warn({ event: 'mtls_check_store_down', store, err: (err as Error)?.message ?? String(err) }, `mtls check: ${store} unavailable`);
    }
    return new CheckRefused(503, 'temporarily_unavailable', `the ${store} is unavailable; try again shortly`, RETRY_AFTER_STORE_DOWN);
  };

  async function check(ctx: ParameterizedContext): Promise<void> {
    if (listenerOf(ctx.req) !== 'mtls') throw new CheckRefused(404, 'not_found', `${MTLS_CHECK_PATH} is served on the mutual-TLS listener only`);
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      throw new CheckRefused(405, 'invalid_request', `${MTLS_CHECK_PATH} answers GET only, not ${ctx.method}`);
    }
    const clientId = clientIdOf(ctx.query['client_id']);

    const address = ctx.req.socket.remoteAddress ?? 'unknown';
    let used;
    try {
      used = await counter.add(address, 1, windowSeconds);
    } catch (err) {
      throw storeDown('rate-limit store', err);
    }
    if (used.count > points) {
      throw new CheckRefused(429, 'too_many_requests', `more than ${points} certificate checks from ${address} in ${windowSeconds} s`, Math.max(1, Math.ceil(used.msLeft / 1000)));
    }

    let presented: PresentedCertificate | undefined;
    try {
      presented = deps.source.fromRequest(ctx.req);
    } catch (err) {
      // A malformed header from a trusted proxy, or one of another format: the request is bad.
      throw new CheckRefused(400, 'invalid_request', (err as Error).message);
    }
    let registration: ClientRegistration | undefined;
    if (clientId !== undefined) {
      try {
        registration = (await deps.findClient(clientId)) ?? undefined;
      } catch (err) {
        throw storeDown('client store', err);
      }
    }
    const diagnosis = await diagnose({
      presented,
      trustStore: deps.trustStore(),
      now: now(),
      ...(deps.revocation ? { revocation: deps.revocation } : {}),
      ...(deps.minRsaBits === undefined ? {} : { minRsaBits: deps.minRsaBits }),
      ...(clientId === undefined ? {} : { client: { id: clientId, registration } }),
    });
    const resumed = presented?.source === 'tls' && presented.chain.length === 0 && (ctx.req.socket as TLSSocket).isSessionReused?.() === true;
    if (resumed && diagnosis.first_failure?.code === 'untrusted') {
      // A resumed TLS session keeps the leaf only: the intermediates of the first handshake are gone.
      const note = ' (this connection resumed a TLS session, which carries no intermediates: check again on a new connection)';
      diagnosis.first_failure.detail += note;
      diagnosis.steps.find((s) => s.check === 'chain')!.detail += note;
    }
    deps.logger.info({
      event: 'mtls_check', ok: diagnosis.ok, check: diagnosis.first_failure?.check, code: diagnosis.first_failure?.code,
      client_id: clientId, x5t: diagnosis.certificate?.['x5t#S256'], address,
    }, diagnosis.ok ? 'mtls check passed' : `mtls check: ${diagnosis.first_failure!.check} failed`);
    ctx.status = 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = diagnosis;
  }

  return async function mtlsCheck(ctx, next) {
    if (ctx.path !== MTLS_CHECK_PATH) {
      await next();
      return;
    }
    try {
      await check(ctx);
    } catch (refusal) {
      // diagnose() never throws; anything else is a bug, left to Koa's error handling (logged once).
      if (!(refusal instanceof CheckRefused)) throw refusal;
      if (refusal.status !== 404 && refusal.status !== 503) {
        deps.logger.warn({ event: 'mtls_check_refused', status: refusal.status, error: refusal.code, reason: refusal.message, address: ctx.req.socket.remoteAddress }, `mtls check refused: ${refusal.message}`);
      }
      if (refusal.retryAfter !== undefined) ctx.set('Retry-After', String(refusal.retryAfter));
      ctx.set('Cache-Control', 'no-store');
      ctx.status = refusal.status;
      ctx.body = { error: refusal.code, error_description: refusal.message };
    }
  };
}

function clientIdOf(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new CheckRefused(400, 'invalid_request', 'client_id is given more than once');
  if (value.length === 0) throw new CheckRefused(400, 'invalid_request', 'client_id is empty');
  if (value.length > MAX_CLIENT_ID_LENGTH) throw new CheckRefused(400, 'invalid_request', `client_id is longer than ${MAX_CLIENT_ID_LENGTH} characters`);
  return value;
}
