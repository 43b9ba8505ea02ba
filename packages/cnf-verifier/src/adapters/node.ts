/** node:http glue: verify, hand the result to your handler, or answer the refusal. No logic of its own. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isVerifierError, type VerifierError } from '../errors.ts';
import { requireScopes } from '../scopes.ts';
import type { VerifiedRequest, Verifier } from '../verifier.ts';

/** An IncomingMessage after nodeAuth. */
export type AuthenticatedMessage = IncomingMessage & { auth?: VerifiedRequest };

export type AuthHandler = (req: AuthenticatedMessage, res: ServerResponse, auth: VerifiedRequest) => unknown;

export interface NodeAuthOptions {
  /** The external URL of the request, when behind a path-rewriting proxy. */
  url?: (req: IncomingMessage) => string | undefined;
  /** Called with errors that are not refusals (JWKS down, a throwing handler) before the 5xx. */
  onError?: (err: unknown) => void;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: object): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { ...headers, 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function answer(res: ServerResponse, err: VerifierError): void {
  send(res, err.status, err.headers, err.toJSON());
}

/** A request listener that runs `handler` only for a valid, correctly bound token. */
export function nodeAuth(
  verifier: Verifier,
  handler: AuthHandler,
  options: NodeAuthOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async function cnfVerifier(req, res) {
    try {
      const auth = await verifier.verify(req, { url: options.url?.(req) });
      (req as AuthenticatedMessage).auth = auth;
      if (auth.dpopNonce !== undefined) res.setHeader('DPoP-Nonce', auth.dpopNonce);
      await handler(req, res, auth);
    } catch (err) {
      if (isVerifierError(err)) return answer(res, err);
      options.onError?.(err);
      // The JWKS, introspection endpoint or replay store is unusable (UpstreamError), or a bug.
      const status = (err as { status?: unknown } | null)?.status === 503 ? 503 : 500;
      send(res, status, { 'cache-control': 'no-store' }, { error: status === 503 ? 'temporarily_unavailable' : 'server_error' });
    }
  };
}

/** Wraps a handler so it runs only when every scope was granted; otherwise 403 insufficient_scope. */
export function nodeRequireScopes(scopes: readonly string[], handler: AuthHandler): AuthHandler {
  const check = requireScopes(...scopes);
  return function cnfRequireScopes(req, res, auth) {
    try {
      check(auth);
    } catch (err) {
      if (isVerifierError(err)) return answer(res, err);
      throw err;
    }
    return handler(req, res, auth);
  };
}
