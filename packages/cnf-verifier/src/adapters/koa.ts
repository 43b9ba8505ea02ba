/** Koa glue: verify, put the result on ctx.state.auth, or answer the refusal. No logic of its own. */
import type { Context, Middleware } from 'koa';
import { isVerifierError, type VerifierError } from '../errors.ts';
import { requireScopes } from '../scopes.ts';
import type { VerifiedRequest, Verifier } from '../verifier.ts';

export interface KoaAuthOptions {
  /** The external URL of the request, when Koa sits behind a path-rewriting proxy. */
  url?: (ctx: Context) => string | undefined;
}

function answer(ctx: Context, err: VerifierError): void {
  ctx.status = err.status;
  ctx.set(err.headers);
  ctx.body = err.toJSON();
}

/** Middleware that lets a request through only with a valid, correctly bound token. */
export function koaAuth(verifier: Verifier, options: KoaAuthOptions = {}): Middleware {
  return async function cnfVerifier(ctx, next) {
    let auth: VerifiedRequest;
    try {
      auth = await verifier.verify(ctx.req, { url: options.url?.(ctx), path: ctx.originalUrl });
    } catch (err) {
      if (!isVerifierError(err)) throw err;
      return answer(ctx, err);
    }
    ctx.state.auth = auth;
    if (auth.dpopNonce !== undefined) ctx.set('DPoP-Nonce', auth.dpopNonce);
    await next();
  };
}

/** Middleware, after koaAuth, that answers 403 insufficient_scope unless every scope was granted. */
export function koaRequireScopes(...scopes: string[]): Middleware {
  const check = requireScopes(...scopes);
  return async function cnfRequireScopes(ctx, next) {
    try {
      check(ctx.state.auth as VerifiedRequest | undefined); // koaAuth's answer, or nothing when it did not run
    } catch (err) {
      if (!isVerifierError(err)) throw err;
      return answer(ctx, err);
    }
    await next();
  };
}
