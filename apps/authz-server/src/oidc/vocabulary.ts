// certbound's vocabulary, each list named once and imported everywhere else in the server: the
// client authentication methods, the RFC 8705 subject matchers, the static scopes, the signing
// algorithms, the private JWK members and the scope-token grammar. The last three are shared with
// the resource servers, so they are the verifier's (@certbound/cnf-verifier).
import { DEFAULT_ALGORITHMS, PRIVATE_JWK_MEMBERS, SCOPE_TOKEN, privateJwkMember } from '@certbound/cnf-verifier';

export { PRIVATE_JWK_MEMBERS, SCOPE_TOKEN, privateJwkMember };

/** Client authentication methods a client may register: certificates, or a signed assertion; shared secrets are off. */
export const AUTH_METHODS = ['tls_client_auth', 'self_signed_tls_client_auth', 'private_key_jwt'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** The RFC 8705 §2 methods where the client proves itself with its certificate (§2.1 PKI, §2.2 self-signed). */
export const CERTIFICATE_AUTH_METHODS: ReadonlySet<string> = new Set<AuthMethod>(['tls_client_auth', 'self_signed_tls_client_auth']);

/** RFC 8705 §2.1.2 metadata: a tls_client_auth client registers exactly one of them. */
export const SUBJECT_MATCHERS = [
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
] as const;
export type SubjectMatcher = (typeof SUBJECT_MATCHERS)[number];

/** Scopes oidc-provider knows statically; every other scope belongs to a resource server. */
export const STATIC_SCOPES: ReadonlySet<string> = new Set(['openid', 'offline_access']);

/**
 * Only asymmetric JWS algorithms (DESIGN.md security rules), in the order oidc-provider should
 * prefer them: ES256 signs by default. The verifier's default list, so a resource server accepts
 * exactly what this server signs with.
 */
export const SIGNING_ALGS = DEFAULT_ALGORITHMS;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** `jwk` without its private members: what may be published or hashed as the public key. */
export function publicJwkMembers<T extends object>(jwk: T): Partial<T> {
  return Object.fromEntries(Object.entries(jwk).filter(([name]) => !PRIVATE_JWK_MEMBERS.includes(name))) as Partial<T>;
}

/**
 * The admin console's public client (console/registration.ts): people sign in to it, and with the
 * admin role (accounts/account-source.ts ADMIN_ROLE) it holds the admin resource as the clients
 * of ADMIN_CLIENT_IDS do.
 */
export const CONSOLE_CLIENT_ID = 'certbound-console';
