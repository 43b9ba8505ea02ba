// RFC 8707 resource indicators backed by the resource_servers table: which audiences exist,
// their scopes, token format and lifetime. A short in-process cache keeps the token endpoint
// off the database for every request while an admin change still lands within seconds.
import { errors, type KoaContextWithOIDC, type Client, type ResourceServer, type AsymmetricSigningAlgorithm } from 'oidc-provider';

export interface ResourceServerRecord {
  identifier: string;
  scopes: string[];
  token_format: 'jwt' | 'opaque';
  access_token_ttl: number | null;
  sender_constraint_required: boolean;
}

const CACHE_MS = 2_000;

export function createResourceIndicators(deps: {
  find(identifier: string): Promise<ResourceServerRecord | undefined>;
  defaultTtl: number;
  signingAlg: AsymmetricSigningAlgorithm;
}) {
  const cache = new Map<string, { at: number; value: ResourceServerRecord | undefined }>();

  async function lookup(identifier: string): Promise<ResourceServerRecord | undefined> {
    const hit = cache.get(identifier);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.value;
    const value = await deps.find(identifier);
    if (cache.size > 1_000) cache.clear();
    cache.set(identifier, { at: Date.now(), value });
    return value;
  }

  return {
    enabled: true,
    // A client registers the API it normally calls (`default_resource`), so the plain
    // client_credentials request needs no `resource` parameter.
    async defaultResource(_ctx: KoaContextWithOIDC, client: Client, oneOf?: readonly string[]) {
      if (oneOf) return oneOf;
      const fallback = client['default_resource'];
      return typeof fallback === 'string' ? fallback : undefined;
    },
    async getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<ResourceServer> {
      const rs = await lookup(indicator);
      if (!rs) throw new errors.InvalidTarget(`resource "${indicator}" is not a registered resource server`);

      const senderConstrained = client.tlsClientCertificateBoundAccessTokens === true
        || client.dpopBoundAccessTokens === true || ctx.get('dpop') !== '';
      // Decided where tokens are minted: at the authorization and PAR endpoints a client may
      // still bind them at the token endpoint with a DPoP proof (RFC 9449 §10: dpop_jkt is optional).
      if (rs.sender_constraint_required && !senderConstrained && ctx.oidc.route === 'token') {
        throw new errors.InvalidTarget(`resource "${indicator}" accepts only sender-constrained tokens (mTLS or DPoP) and this client gets unbound tokens`);
      }

      // oidc-provider checks a client's registered `scope` only against its static scopes;
      // resource scopes are registered at run time, so the client's allow-list is applied here:
      // asking for a scope of this resource that the client was not given is refused outright.
      const registered = client['resource_scopes'];
      const allowed = new Set(typeof registered === 'string' ? registered.split(' ') : []);
      const requested = String(ctx.oidc.params?.scope ?? '').split(' ').filter(Boolean);
      const refused = requested.find((s) => rs.scopes.includes(s) && !allowed.has(s));
      if (refused) throw new errors.InvalidScope(`scope "${refused}" is not registered for this client`, refused);
      const scope = rs.scopes.filter((s) => allowed.has(s)).join(' ');
      // RFC 6749 §3.3: a request with no scope gets the registered default, here every scope the
      // client holds on this resource, rather than a token that can do nothing.
      if (requested.length === 0 && ctx.oidc.params?.grant_type === 'client_credentials' && scope) {
        (ctx.oidc.params as Record<string, unknown>).scope = scope;
      }

      return {
        scope,
        audience: rs.identifier,
        accessTokenTTL: rs.access_token_ttl ?? deps.defaultTtl,
        accessTokenFormat: rs.token_format,
        ...(rs.token_format === 'jwt' ? { jwt: { sign: { alg: deps.signingAlg } } } : {}),
      };
    },
    async useGrantedResource() {
      return true;
    },
  };
}
