// The names the verifier shares with the authorization server, each defined once: the RFC 6749
// scope-token grammar, the JWK members that hold private key material, and the JWS algorithms it
// accepts. The package stands alone (it is published), so its lists live here; the server imports
// these where it means the same thing rather than keeping a copy.

/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E, at least one. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * JWK members that hold private key material: RFC 7518 §6.2.2 (EC `d`), §6.3.2 (RSA `d`, `p`,
 * `q`, `dp`, `dq`, `qi`, `oth`), §6.4 (`k` of a symmetric key), RFC 8037 §2 (OKP `d`) and `priv`
 * (the ML-DSA / AKP draft's private key).
 */
export const PRIVATE_JWK_MEMBERS: readonly string[] = Object.freeze(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv']);

/** The first private member `jwk` carries (an own member of that name, whatever its value), or undefined for a public key. */
export function privateJwkMember(jwk: object): string | undefined {
  return PRIVATE_JWK_MEMBERS.find((m) => Object.hasOwn(jwk, m));
}

/** Asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037, the ML-DSA draft): the only ones accepted. */
export const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512',
  'EdDSA', 'Ed25519', 'ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87',
]);

/**
 * Accepted when the `algorithms` option is not set: what certbound's server signs with (its
 * SIGNING_ALGS are this list), in its order of preference: ES256 first.
 */
export const DEFAULT_ALGORITHMS = Object.freeze(['ES256', 'PS256', 'EdDSA'] as const);
