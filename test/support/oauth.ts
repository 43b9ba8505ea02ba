// Shared assertions for OAuth answers (STYLE.md item 13): status, error code and description.
import assert from 'node:assert/strict';
import type { HttpsAnswer } from './https.ts';

export function expectOAuthError(res: HttpsAnswer, status: number, code: string, description?: RegExp | string): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.equal(res.json?.error, code, `expected error ${code}, got ${res.text}`);
  if (description instanceof RegExp) assert.match(String(res.json?.error_description), description);
  else if (description !== undefined) assert.equal(res.json?.error_description, description);
}

/** The JOSE header members the tests read. */
export interface JwtHeader {
  readonly [member: string]: unknown;
  readonly typ?: string;
  readonly alg?: string;
  readonly kid?: string;
}

/** The access-token claims the tests read (RFC 9068 §2.2); `cnf` holds the binding (RFC 8705 §3.1, RFC 9449 §6.1). */
export interface JwtClaims {
  readonly [claim: string]: unknown;
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | string[];
  readonly client_id: string;
  readonly scope: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  /** absent for an unbound token: a test reads it after asserting it is there */
  readonly cnf: { readonly 'x5t#S256'?: string; readonly jkt?: string };
}

/** The header and claims of a JWT, unverified: `token` is whatever the answer held, and must be a string. */
export function decodeJwt(token: unknown): { header: JwtHeader; payload: JwtClaims } {
  assert.equal(typeof token, 'string', `expected a JWT, got ${JSON.stringify(token)}`);
  const [header, payload] = (token as string).split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as JwtHeader,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as JwtClaims,
  };
}
