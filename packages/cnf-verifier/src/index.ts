export { createVerifier, type Binding, type VerifiableRequest, type VerifiedRequest, type Verifier, type VerifyOverrides } from './verifier.ts';
export type { DpopOptions, VerificationOutcome, VerifierOptions } from './options.ts';
export { ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS, PRIVATE_JWK_MEMBERS, SCOPE_TOKEN, privateJwkMember } from './vocabulary.ts';
export { requireScopes, type ScopedAuth } from './scopes.ts';
export {
  createCertificateSource,
  isTlsSocket,
  PROXY_HEADER_FORMATS,
  type CertificateRequest,
  type CertificateSource,
  type CertificateSourceOptions,
  type PresentedCertificate,
  type ProxyHeaderFormat,
} from './certificate.ts';
export { verifyDpopProof, type DpopPolicy, type DpopRequest, type DpopResult } from './dpop.ts';
export { createMemoryReplayStore, createRedisReplayStore, type MemoryReplayStore, type MemoryReplayStoreOptions, type RedisReplayStoreOptions, type RedisSetNx, type ReplayStore } from './replay-store.ts';
export { createNonceIssuer, type NonceIssuer, type NonceOptions } from './nonce.ts';
export { x5tS256, jwkThumbprint } from './thumbprint.ts';
export { normalizeHtu } from './request-url.ts';
export { parseAddressRange, type AddressRange } from './trusted-proxies.ts';
export type { JwksOption, RemoteJwksOptions } from './jwks.ts';
export type { IntrospectionOptions } from './introspection.ts';
export type { Dispatcher, FetchLike } from './http-fetch.ts';
export {
  VerifierError,
  InvalidRequestError,
  InvalidTokenError,
  InsufficientScopeError,
  InvalidDpopProofError,
  UseDpopNonceError,
  TemporarilyUnavailableError,
  isVerifierError,
  type VerifierErrorCode,
  type VerifierErrorOptions,
} from './errors.ts';
export { UpstreamError } from './upstream-error.ts';
export { renderWwwAuthenticate, type AuthScheme, type ChallengeContext } from './www-authenticate.ts';
