// The one error middleware of /admin/v1 (koa's pattern): every refusal becomes
// `{ "error": code, "error_description": "..." }` with its status and headers, and one
// structured log line. Unknown errors are 500 server_error with a generic description; their
// details go to the log only.
import { isVerifierError, UpstreamError } from '@certbound/cnf-verifier';
import type { Logger } from '../log.ts';
import { AdminError } from './errors.ts';
import type { AdminMiddleware } from './context.ts';
import { isStoreUnavailable, OUTAGE_RETRY_AFTER_SECONDS } from '../storage/outage.ts';

interface Refusal {
  status: number;
  code: string;
  description: string;
  headers: Record<string, string>;
}

function refusalOf(err: unknown): Refusal | undefined {
  if (err instanceof AdminError) {
    return { status: err.status, code: err.code, description: err.expose ? err.message : 'internal error', headers: { ...err.headers } };
  }
  if (isVerifierError(err)) {
    // RFC 6750 §3: invalid_token / insufficient_scope with WWW-Authenticate.
    return { status: err.status, code: err.code, description: err.description, headers: err.headers };
  }
  if (isStoreUnavailable(err)) {
    // PostgreSQL or Redis unreachable (storage/outage.ts): admin changes wait until it is back.
    const description = (err as { error_description?: string }).error_description ?? (err as Error).message;
    return { status: 503, code: 'temporarily_unavailable', description, headers: { 'Retry-After': String(OUTAGE_RETRY_AFTER_SECONDS) } };
  }
  if (err instanceof UpstreamError) {
    return { status: 503, code: 'temporarily_unavailable', description: 'a store the admin API needs is unavailable', headers: {} };
  }
  return undefined;
}

export function createErrorHandler(logger: Logger): AdminMiddleware {
  return async function adminErrors(ctx, next) {
    try {
      await next();
    } catch (err) {
      const refusal = refusalOf(err) ?? { status: 500, code: 'server_error', description: 'internal error', headers: {} };
      ctx.status = refusal.status;
      ctx.set(refusal.headers);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: refusal.code, error_description: refusal.description };
      const line = {
        event: 'admin_refusal',
        request_id: ctx.state.requestId,
        method: ctx.method,
        path: ctx.path,
        route: ctx.state.route?.name,
        status: refusal.status,
        error: refusal.code,
        reason: refusal.description,
        actor: ctx.state.admin?.clientId,
      };
      if (refusal.status >= 500) logger.error({ ...line, err }, `admin API error: ${(err as Error)?.message ?? String(err)}`);
      else logger.warn(line, `admin refused: ${refusal.description}`);
    }
  };
}
