/** DPoP proof validation, RFC 9449 §4.3 and §7.1. */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { EmbeddedJWK, decodeProtectedHeader, errors, jwtVerify, type CryptoKey, type FlattenedJWSInput, type JWK, type JWSHeaderParameters, type JWTPayload } from 'jose';
import { InvalidDpopProofError, InvalidTokenError, UseDpopNonceError, VerifierError } from './errors.ts';
import type { NonceIssuer } from './nonce.ts';
import type { ReplayStore } from './replay-store.ts';
import { normalizeHtu } from './request-url.ts';
import { jwkThumbprint, sameString } from './thumbprint.ts';
import { UpstreamError } from './upstream-error.ts';
import { privateJwkMember } from './vocabulary.ts';

export type { ReplayStore } from './replay-store.ts';

export interface DpopPolicy {
  algorithms: readonly string[];
  /** Seconds a proof's iat may lie in the past / in the future. */
  iatPast: number;
  iatFuture: number;
  nonce: NonceIssuer | undefined;
  replayStore: ReplayStore;
}

export interface DpopRequest {
  /** Every DPoP header value received. */
  proofs: string[];
  method: string;
  /**
   * The external request URL, or one per origin the resource server answers on (query and
   * fragment are ignored). Build it from configured origins, never from the Host header.
   */
  url: string | readonly string[] | undefined;
  accessToken: string;
  /** The `cnf.jkt` of the access token. */
  boundJkt: string;
  nowMs: number;
}

export interface DpopResult {
  jkt: string;
  claims: JWTPayload;
  /** A fresh nonce to send when the proof used the previous window's nonce (RFC 9449 §8.2). */
  nonce?: string | undefined;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function claimString(claims: JWTPayload, name: string): string {
  const value = claims[name];
  if (typeof value !== 'string' || value === '') throw new InvalidDpopProofError(`DPoP proof ${name} claim is missing`);
  return value;
}

// A client signs every proof with the same key, and importing a JWK (and hashing it for its
// RFC 7638 thumbprint) costs more than checking the signature: both are kept per distinct
// (alg, jwk) as sent. EmbeddedJWK still decides, once per key, whether the jwk is acceptable.
const PROOF_KEYS_MAX = 1_000;
const proofKeys = new LRUCache<string, { key: CryptoKey; jkt: string }>({ max: PROOF_KEYS_MAX });

async function embeddedProofKey(header: JWSHeaderParameters, token: FlattenedJWSInput) {
  const id = `${header.alg}.${JSON.stringify(header.jwk)}`;
  let entry = proofKeys.get(id);
  if (!entry) {
    entry = { key: (await EmbeddedJWK(header, token)), jkt: await jwkThumbprint(header.jwk as JWK) };
    proofKeys.set(id, entry);
  }
  return entry;
}

/**
 * Checks in order: exactly one DPoP header; a compact JWS; typ dpop+jwt; alg allowed; jwk a
 * public key; signature; jti, htm, htu, iat present; htm; htu; iat window; ath; key matches
 * cnf.jkt; server nonce; jti not seen before (recorded last, so a refused proof burns nothing).
 */
export async function verifyDpopProof(req: DpopRequest, policy: DpopPolicy): Promise<DpopResult> {
  // §4.3 step 1: not more than one DPoP header.
  if (req.proofs.length === 0) throw new InvalidDpopProofError('DPoP proof is missing');
  const proof = req.proofs[0].trim();
  if (req.proofs.length > 1 || proof.includes(',')) throw new InvalidDpopProofError('exactly one DPoP header is allowed');
  // Step 2: a well-formed JWT.
  if (!COMPACT_JWS.test(proof)) throw new InvalidDpopProofError('DPoP proof is not a JWT');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (cause) {
    throw new InvalidDpopProofError('DPoP proof is not a JWT', { cause });
  }
  // Step 4: typ.
  if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== 'dpop+jwt') {
    throw new InvalidDpopProofError('DPoP proof typ must be dpop+jwt');
  }
  // Step 5: an asymmetric algorithm we accept.
  if (typeof header.alg !== 'string' || !policy.algorithms.includes(header.alg)) {
    throw new InvalidDpopProofError(`DPoP proof alg ${String(header.alg).slice(0, 32)} is not allowed`);
  }
  // Step 7: the jwk header is a public key.
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || typeof jwk.kty !== 'string') throw new InvalidDpopProofError('DPoP proof jwk header is missing');
  if (privateJwkMember(jwk) !== undefined) throw new InvalidDpopProofError('DPoP proof jwk must not contain private key material');
  // Step 6: signature with the embedded key.
  let claims: JWTPayload;
  let jkt = '';
  try {
    ({ payload: claims } = await jwtVerify(proof, async (h, t) => {
      const embedded = await embeddedProofKey(h, t);
      jkt = embedded.jkt;
      return embedded.key;
    }, {
      algorithms: policy.algorithms as string[], // jose only reads it
      typ: 'dpop+jwt',
      currentDate: new Date(req.nowMs),
    }));
  } catch (cause) {
    if (cause instanceof errors.JWSSignatureVerificationFailed) throw new InvalidDpopProofError('DPoP proof signature is invalid', { cause });
    throw new InvalidDpopProofError('DPoP proof could not be verified', { cause });
  }
  // Step 3: required claims.
  const jti = claimString(claims, 'jti');
  const htm = claimString(claims, 'htm');
  const htu = claimString(claims, 'htu');
  if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) throw new InvalidDpopProofError('DPoP proof iat claim is missing');
  // Step 8: htm equals the method.
  if (htm !== req.method) throw new InvalidDpopProofError('DPoP proof htm does not match the request method');
  // Step 9: htu equals the request URL, without query and fragment.
  const expected = (req.url === undefined ? [] : typeof req.url === 'string' ? [req.url] : req.url).map(normalizeHtu);
  const actual = normalizeHtu(htu);
  if (actual === undefined || !expected.includes(actual)) throw new InvalidDpopProofError('DPoP proof htu does not match the request URL');
  // Step 11: iat within the acceptable window.
  const now = req.nowMs / 1000;
  if (claims.iat < now - policy.iatPast || claims.iat > now + policy.iatFuture) {
    throw new InvalidDpopProofError('DPoP proof iat is outside the acceptable window');
  }
  // Step 12: ath is the hash of the access token presented with it.
  const ath = claims.ath;
  if (typeof ath !== 'string') throw new InvalidDpopProofError('DPoP proof ath claim is missing');
  if (!sameString(ath, sha256(req.accessToken).toString('base64url'))) throw new InvalidDpopProofError('DPoP proof ath does not match the access token');
  // Step 12 / §7.1: the proof key is the key the token is bound to (an access-token error).
  if (!sameString(jkt, req.boundJkt)) throw new InvalidTokenError('DPoP proof key does not match the access token cnf.jkt');
  // Step 10 / §9: a current server nonce.
  let fresh: string | undefined;
  if (policy.nonce) {
    const verdict = policy.nonce.check(claims.nonce, req.nowMs);
    if (verdict === 'invalid') {
      throw new UseDpopNonceError('DPoP proof nonce is missing or stale', { dpopNonce: policy.nonce.current(req.nowMs) });
    }
    if (verdict === 'previous') fresh = policy.nonce.current(req.nowMs);
  }
  // §11.1: jti unique while the proof is acceptable; keyed by the proof key so one client's
  // jtis cannot block another's.
  const ttlMs = (policy.iatPast + policy.iatFuture + 1) * 1000;
  const replayKey = sha256(`${jkt}:${jti}`).toString('base64url');
  let first: boolean;
  try {
    first = await policy.replayStore.add(replayKey, ttlMs);
  } catch (cause) {
    // A full store says when to come back (503 with Retry-After); anything else is an outage.
    if (cause instanceof VerifierError) throw cause;
    throw new UpstreamError('DPoP replay store could not be used', { cause });
  }
  if (!first) throw new InvalidDpopProofError('DPoP proof jti has already been used');
  return { jkt, claims, nonce: fresh };
}
