/** Scope policy belongs to the route: requireScopes builds the check once, routes apply it. */
import { InsufficientScopeError } from './errors.ts';
import type { ChallengeContext } from './www-authenticate.ts';
import { SCOPE_TOKEN } from './vocabulary.ts';

/** What requireScopes needs from a verified request. */
export interface ScopedAuth {
  scopes: readonly string[];
}

// The challenge context of each verified request, so a 403 offers the same challenges as a 401.
// Kept on the result itself (a non-enumerable symbol: invisible to JSON and deepEqual) rather
// than in a WeakMap, whose entry per request costs the garbage collector more than the lookup.
const CHALLENGE = Symbol('cnf-verifier.challenge');

export function rememberChallenge(auth: object, ctx: ChallengeContext): void {
  Object.defineProperty(auth, CHALLENGE, { value: ctx });
}

/**
 * A check that every one of `scopes` was granted. It throws InsufficientScopeError (403, with
 * `scope="..."` in WWW-Authenticate per RFC 6750 §3) when one is missing.
 */
export function requireScopes(...scopes: string[]): (auth: ScopedAuth | undefined) => void {
  scopes.forEach((scope, i) => {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) throw new TypeError(`scopes[${i}]: ${JSON.stringify(scope)} is not a scope token`);
  });
  const required = scopes.join(' ');
  return function checkScopes(auth) {
    if (!auth || !Array.isArray(auth.scopes)) throw new TypeError('requireScopes: the request was not verified; run verify first');
    const missing = scopes.filter((s) => !auth.scopes.includes(s));
    if (missing.length === 0) return;
    const error = new InsufficientScopeError(`access token lacks scope ${missing.join(' ')}`, { scope: required });
    error.challenge = (auth as { [CHALLENGE]?: ChallengeContext })[CHALLENGE] ?? {};
    throw error;
  };
}
