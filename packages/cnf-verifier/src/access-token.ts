/** JWT access token validation (RFC 9068 §4): typ, pinned algorithms, signature, iss, aud, exp/nbf. */
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { InvalidTokenError } from './errors.ts';
import { UpstreamError } from './upstream-error.ts';

export interface AccessTokenPolicy {
  issuer: string;
  audience: readonly string[];
  algorithms: readonly string[];
  clockTolerance: number;
  keys: JWTVerifyGetKey;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Whether the token has the shape of a JWS (three base64url parts); otherwise it is opaque. */
export function looksLikeJwt(token: string): boolean {
  return COMPACT_JWS.test(token);
}

function describeClaimFailure(err: errors.JWTClaimValidationFailed): string {
  switch (err.claim) {
    case 'iss':
      return 'access token iss does not match the expected issuer';
    case 'aud':
      return 'access token aud does not include this resource server';
    case 'nbf':
      return 'access token is not yet valid (nbf)';
    case 'iat':
      return 'access token iat is invalid';
    default:
      return err.reason === 'missing' ? `access token ${err.claim} claim is missing` : `access token ${err.claim} claim is invalid`;
  }
}

// Every token of an authorization server carries one of a handful of protected headers (one
// per signing key): a header segment that passed the checks below is remembered, so they do not
// decode and parse the same JSON for every request.
const HEADERS_MAX = 64;

function checkHeader(token: string, algorithms: readonly string[], accepted: Set<string>): void {
  const segment = token.slice(0, token.indexOf('.'));
  if (accepted.has(segment)) return;
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw new InvalidTokenError('access token is not a well-formed JWT', { cause });
  }
  // RFC 9068 §4: typ must be at+jwt (application/at+jwt is the same media type).
  if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== 'at+jwt') {
    throw new InvalidTokenError('access token typ must be at+jwt');
  }
  // Pinned asymmetric algorithms: refuses none and HS256-with-the-public-key before any key lookup.
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw new InvalidTokenError(`access token alg ${String(header.alg).slice(0, 32)} is not allowed`);
  }
  if (segment.length > 1_024) return; // a real header is a few dozen bytes: never hold a padded one
  if (accepted.size >= HEADERS_MAX) accepted.clear();
  accepted.add(segment);
}

export type AccessTokenVerifier = (token: string, nowMs: number) => Promise<JWTPayload>;

/** Builds the check once per verifier; only the clock changes per request. */
export function createAccessTokenVerifier(policy: AccessTokenPolicy): AccessTokenVerifier {
  const accepted = new Set<string>();
  const options = {
    algorithms: [...policy.algorithms],
    typ: 'at+jwt',
    issuer: policy.issuer,
    audience: [...policy.audience],
    clockTolerance: policy.clockTolerance,
    requiredClaims: ['exp'],
  };
  return async function verifyJwtAccessToken(token, nowMs) {
    checkHeader(token, policy.algorithms, accepted);
    try {
      const { payload } = await jwtVerify(token, policy.keys, { ...options, currentDate: new Date(nowMs) });
      return payload;
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      if (err instanceof errors.JWTExpired) throw new InvalidTokenError('access token has expired', { cause: err });
      if (err instanceof errors.JWTClaimValidationFailed) throw new InvalidTokenError(describeClaimFailure(err), { cause: err });
      if (err instanceof errors.JWSSignatureVerificationFailed) throw new InvalidTokenError('access token signature is invalid', { cause: err });
      if (err instanceof errors.JWKSNoMatchingKey) throw new InvalidTokenError('no key in the JWKS matches the access token', { cause: err });
      if (err instanceof errors.JWKSMultipleMatchingKeys) throw new InvalidTokenError('several JWKS keys match the access token; kid required', { cause: err });
      throw new InvalidTokenError('access token could not be verified', { cause: err });
    }
  };
}
