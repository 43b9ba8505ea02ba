/**
 * The JWKS or introspection endpoint could not be used (network, TLS, non-200, bad JSON). Not a
 * client error: it is not a VerifierError, adapters pass it on, and frameworks answer 503.
 */
export class UpstreamError extends Error {
  readonly status = 503 as const;
  /** Koa convention: the message is not shown to the client. */
  readonly expose = false;
  override name = 'UpstreamError';
}
