// Every /admin/v1 answer carries X-Request-Id: the caller's own when it sent a sane one (so its
// logs and ours join), otherwise a fresh one. The audit log records it with each change.
import { randomUUID } from 'node:crypto';
import type { AdminMiddleware } from './context.ts';

const SANE = /^[\x21-\x7e]{1,128}$/;

export const requestId: AdminMiddleware = async function requestId(ctx, next) {
  const given = ctx.get('X-Request-Id');
  ctx.state.requestId = SANE.test(given) ? given : randomUUID();
  ctx.state.params = {};
  ctx.set('X-Request-Id', ctx.state.requestId);
  await next();
};
