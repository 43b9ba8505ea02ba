/** Express glue: verify, put the result on req.auth, or answer the refusal. No logic of its own. */
import type { Request, RequestHandler, Response } from 'express';
import { isVerifierError, type VerifierError } from '../errors.ts';
import { requireScopes } from '../scopes.ts';
import type { VerifiedRequest, Verifier } from '../verifier.ts';

export interface ExpressAuthOptions {
  /** The external URL of the request, when Express sits behind a path-rewriting proxy. */
  url?: (req: Request) => string | undefined;
}

/** An Express request after expressAuth. */
export type AuthenticatedRequest = Request & { auth?: VerifiedRequest };

function answer(res: Response, err: VerifierError): void {
  res.status(err.status).set(err.headers).json(err.toJSON());
}

/** Middleware that lets a request through only with a valid, correctly bound token. */
export function expressAuth(verifier: Verifier, options: ExpressAuthOptions = {}): RequestHandler {
  return function cnfVerifier(req, res, next) {
    verifier.verify(req, { url: options.url?.(req), path: req.originalUrl }).then(
      (auth) => {
        (req as AuthenticatedRequest).auth = auth;
        if (auth.dpopNonce !== undefined) res.set('DPoP-Nonce', auth.dpopNonce);
        next();
      },
      (err: unknown) => (isVerifierError(err) ? answer(res, err) : next(err)),
    );
  };
}

/** Middleware, after expressAuth, that answers 403 insufficient_scope unless every scope was granted. */
export function expressRequireScopes(...scopes: string[]): RequestHandler {
  const check = requireScopes(...scopes);
  return function cnfRequireScopes(req, res, next) {
    try {
      check((req as AuthenticatedRequest).auth);
    } catch (err) {
      return isVerifierError(err) ? answer(res, err) : next(err);
    }
    next();
  };
}
