// The settlement API: Koa, protected by @certbound/cnf-verifier exactly as a third party would
// protect theirs. Every response says who called (client_id, certificate subject, binding).
import Koa, { type Context, type Next } from 'koa';
import { inspect } from 'node:util';
import getRawBody from 'raw-body';
import { UpstreamError, type Verifier, type VerifiedRequest } from '@certbound/cnf-verifier';
import { koaAuth, koaRequireScopes } from '@certbound/cnf-verifier/koa';
import { createSettlementStore, parseSettlement, SettlementInputError } from './settlements.ts';
import type { Logger } from './log.ts';

const BODY_LIMIT = 16 * 1024;

function caller(auth: VerifiedRequest) {
  return {
    client_id: auth.clientId,
    // node prints the subject in DER order, one RDN a line; RFC 4514 reads it backwards.
    certificate_subject: auth.certificate ? auth.certificate.leaf.subject.split('\n').reverse().join(',') : null,
    binding: auth.binding,
  };
}

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, description: string) {
    super(description);
    this.status = status;
    this.code = code;
  }
}

async function readJson(ctx: Context): Promise<unknown> {
  if (!ctx.is('application/json')) throw new HttpError(415, 'unsupported_media_type', 'content-type must be application/json');
  let body: Buffer;
  try {
    // raw-body: refuses a declared or received size over the limit, and a body cut off or unlike its Content-Length.
    body = await getRawBody(ctx.req, { limit: BODY_LIMIT, length: ctx.get('content-length') || null });
  } catch (err) {
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.too.large') throw new HttpError(413, 'payload_too_large', `body exceeds ${BODY_LIMIT} bytes`);
    if (type === 'request.size.invalid' || type === 'request.aborted') throw new HttpError(400, 'invalid_request', 'body was cut off or does not match its Content-Length');
    throw err;
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_request', 'body is not valid JSON');
  }
}

export function createDemoApp(deps: {
  verifier: Verifier;
  /** One line per refusal or error (log.ts); none when absent. */
  logger?: Logger;
}) {
  const app = new Koa();
  const store = createSettlementStore();
  // DPoP htu: the verifier's configured origin plus ctx.originalUrl, never the Host header.
  const auth = koaAuth(deps.verifier);
  const canRead = koaRequireScopes('settlements:read');
  const canWrite = koaRequireScopes('settlements:write');

  // Anything a middleware throws is answered here and logged once, on one line: a known refusal
  // at warn; an UpstreamError (JWKS, introspection or replay store unusable) as 503 and an
  // unknown error as 500, both at error level with the error and its cause.
  app.use(async function errors(ctx: Context, next: Next) {
    let failure: unknown;
    try {
      await next();
    } catch (err) {
      const known = err instanceof HttpError ? err
        : err instanceof SettlementInputError ? new HttpError(400, 'invalid_request', err.message)
        : err instanceof UpstreamError ? new HttpError(503, 'temporarily_unavailable', 'a service this API depends on is unavailable; retry later')
        : new HttpError(500, 'server_error', 'internal error');
      if (!(err instanceof HttpError || err instanceof SettlementInputError)) failure = err;
      ctx.status = known.status;
      if (known.status === 503) ctx.set('Retry-After', '5');
      ctx.body = { error: known.code, error_description: known.message };
    }
    const body = ctx.body as { error?: string; error_description?: string } | undefined;
    const line = { method: ctx.method, path: ctx.path, status: ctx.status, error: body?.error };
    if (failure !== undefined) {
      const event = failure instanceof UpstreamError ? 'upstream_error' : 'server_error';
      deps.logger?.error({ event, ...line, err: failure }, `${event}: ${failure instanceof Error ? failure.message : typeof failure === 'string' ? failure : inspect(failure)}`);
    } else if (ctx.status >= 400) {
      deps.logger?.warn({ event: 'refusal', ...line, reason: body?.error_description }, `refused: ${body?.error_description ?? ctx.status}`);
    }
  });

  app.use(async function routes(ctx: Context, next: Next) {
    if (ctx.path === '/healthz' && ctx.method === 'GET') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path === '/api/v1/settlements' && ctx.method === 'POST') {
      await auth(ctx, async () => {
        await canWrite(ctx, async () => {
          const input = parseSettlement(await readJson(ctx));
          const who = ctx.state.auth as VerifiedRequest; // set by koaAuth
          const settlement = store.create(input, who.clientId);
          ctx.status = 201;
          ctx.set('Location', `/api/v1/settlements/${settlement.id}`);
          ctx.body = { settlement, caller: caller(who) };
        });
      });
      return;
    }
    const match = /^\/api\/v1\/settlements\/([0-9a-f-]{36})$/.exec(ctx.path);
    if (match && ctx.method === 'GET') {
      await auth(ctx, async () => {
        await canRead(ctx, async () => {
          const settlement = store.get(match[1]);
          if (!settlement) throw new HttpError(404, 'not_found', `settlement ${match[1]} does not exist`);
          ctx.body = { settlement, caller: caller(ctx.state.auth as VerifiedRequest) };
        });
      });
      return;
    }
    await next();
  });

  // What still reaches Koa (a failure after the answer began): one line, not a stack on stderr.
  app.on('error', function appError(err: Error, ctx?: Context) {
    deps.logger?.error({ event: 'app_error', method: ctx?.method, path: ctx?.path, err }, `app error: ${err.message}`);
  });

  return app;
}
