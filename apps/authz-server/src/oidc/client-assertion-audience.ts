// RFC 7523 §3 / RFC 8705 §5: a private_key_jwt assertion names the authorization server in `aud`
// as the issuer or "the token endpoint URL". certbound has two token endpoints (the public one in
// `token_endpoint` and its mutual-TLS alias), and oidc-provider derives the accepted URLs from the
// Host of the request, so an assertion made for one was refused at the other, and behind a proxy
// neither might match. Both published URLs of every endpoint that takes client authentication
// are accepted, on either listener. FAPI 2.0 clients still need `aud` = issuer (oidc-provider's
// assertJwtClientAuthClaimsAndHeader), and each assertion's jti is still single-use.
import type { Provider } from 'oidc-provider';

interface OidcContextPrototype {
  clientJwtAuthExpectedAudience(this: unknown): Set<string>;
}

export function acceptPublishedAudiences(provider: Provider, audiences: readonly string[]): void {
  const prototype = (provider as unknown as { OIDCContext: { prototype: OidcContextPrototype } }).OIDCContext.prototype;
  const engine = prototype.clientJwtAuthExpectedAudience;
  prototype.clientJwtAuthExpectedAudience = function clientJwtAuthExpectedAudience() {
    const accepted = engine.call(this);
    for (const audience of audiences) accepted.add(audience);
    return accepted;
  };
}
