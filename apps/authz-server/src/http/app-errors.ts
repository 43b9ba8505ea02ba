// What reaches Koa's `error` event: an error no middleware answered (Koa then sends a bare 500),
// or a connection that failed mid-response. Koa's default listener prints the stack to stderr over
// many lines; here each becomes one structured log line, at error level when the server is at fault,
// naming the request the way every refusal line does (oidc/errors.ts requestFacts).
import type { EventEmitter } from 'node:events';
import type { Context } from 'koa';
import type { Logger } from '../log.ts';
import { requestFacts } from '../oidc/errors.ts';

/** The peer went away: nothing was wrong with the server. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

export function logAppErrors(app: EventEmitter, logger: Logger): void {
  // A listener of its own replaces Koa's default (application.js: only when none is attached).
  app.on('error', function appError(err: Error & { status?: number; statusCode?: number; expose?: boolean; code?: string; headerSent?: boolean }, ctx?: Context) {
    const status = err.status ?? err.statusCode ?? 500;
    const line = {
      event: 'app_error',
      ...(ctx ? requestFacts(ctx) : {}),
      status,
      header_sent: err.headerSent === true,
      err,
    };
    if (err.code !== undefined && CLIENT_GONE.has(err.code)) logger.info({ ...line, event: 'client_gone' }, `connection ended early: ${err.code}`);
    else if (status >= 500 || !err.expose) logger.error(line, `unhandled error: ${err.message}`);
    else logger.warn(line, `request refused: ${err.message}`);
  });
}
