// The one function that builds the oidc-provider configuration from the typed config, the
// adapter factory and the callbacks in oauth/. Every option that differs from oidc-provider's
// default carries a comment saying why.
import type { JSONWebKeySet } from 'jose';
import { Provider, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { createClientCertificateChecks, type CertificateSource, type VerdictCache } from './oauth/client-certificate.ts';
import { createResourceIndicators, type ResourceServerRecord } from './oauth/resource-servers.ts';
import { createRefusalReporter } from './oauth/refusals.ts';
import { createStructuredTokenEndpoints, type RevocationList } from './oauth/structured-tokens.ts';
import { withClientDefaults, type AdapterFactory } from './oauth/client-defaults.ts';

/** Only asymmetric JWS algorithms (DESIGN.md security rules); ES256 signs by default. */
export const SIGNING_ALGS = ['ES256', 'PS256', 'EdDSA'] as const;

/** Scopes oidc-provider knows statically; every other scope belongs to a resource server. */
export const STATIC_SCOPES: ReadonlySet<string> = new Set(['openid', 'offline_access']);

export interface ProviderDeps {
  config: Config;
  logger: Logger;
  adapterFactory: AdapterFactory;
  /** Private signing keys, ES256 first. */
  jwks: JSONWebKeySet;
  cookieKeys: string[];
  certificateSource: CertificateSource;
  verdicts: VerdictCache;
  findResourceServer(identifier: string): Promise<ResourceServerRecord | undefined>;
  revocations: RevocationList;
}

export function mtlsEndpointAliases(config: Config) {
  return {
    token_endpoint: `${config.mtlsBaseUrl}/token`,
    introspection_endpoint: `${config.mtlsBaseUrl}/token/introspection`,
    revocation_endpoint: `${config.mtlsBaseUrl}/token/revocation`,
    pushed_authorization_request_endpoint: `${config.mtlsBaseUrl}/request`,
    userinfo_endpoint: `${config.mtlsBaseUrl}/me`,
  };
}

function publicJwks(jwks: JSONWebKeySet): JSONWebKeySet {
  const privateMembers = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']);
  return {
    keys: jwks.keys.map((key) => Object.fromEntries(Object.entries(key).filter(([name]) => !privateMembers.has(name)))),
  };
}

export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const aliases = mtlsEndpointAliases(config);
  const certificates = createClientCertificateChecks({ source: deps.certificateSource, verdicts: deps.verdicts });

  const configuration: Configuration = {
    adapter: withClientDefaults(deps.adapterFactory, STATIC_SCOPES) as unknown as Configuration['adapter'],
    jwks: deps.jwks as Configuration['jwks'],
    scopes: [...STATIC_SCOPES],
    cookies: { keys: deps.cookieKeys },
    // Machine clients first: certificates, or a signed assertion; shared secrets are off.
    clientAuthMethods: ['tls_client_auth', 'self_signed_tls_client_auth', 'private_key_jwt'],
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'tls_client_auth',
      id_token_signed_response_alg: 'ES256',
    },
    extraClientMetadata: {
      // default_resource: the audience a client gets when it names none (RFC 8707 §2).
      // introspection_allowed: a resource server's client may introspect others' tokens.
      // resource_scopes: the resource-server part of the registered `scope` (client-defaults.ts).
      properties: ['default_resource', 'introspection_allowed', 'resource_scopes'],
      validator(_ctx, key, value) {
        if (key === 'default_resource' && value !== undefined && (typeof value !== 'string' || !URL.canParse(value))) {
          throw new Error('default_resource must be an absolute URI');
        }
        if (key === 'introspection_allowed' && value !== undefined && typeof value !== 'boolean') {
          throw new Error('introspection_allowed must be a boolean');
        }
      },
    },
    enabledJWA: {
      clientAuthSigningAlgValues: [...SIGNING_ALGS],
      idTokenSigningAlgValues: [...SIGNING_ALGS],
      dPoPSigningAlgValues: [...SIGNING_ALGS],
      requestObjectSigningAlgValues: [...SIGNING_ALGS],
      userinfoSigningAlgValues: [...SIGNING_ALGS],
      introspectionSigningAlgValues: [...SIGNING_ALGS],
      authorizationSigningAlgValues: [...SIGNING_ALGS],
    },
    discovery: {
      // RFC 8705 §5: certificate-authenticating clients use the mutual-TLS listener.
      mtls_endpoint_aliases: aliases,
    },
    // @types/oidc-provider lags the engine (it types introspection as always disabled).
    features: {
      // No login UI in the client-credentials core; the interaction pages come with the
      // authorization-code flow.
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: { clientId: string; [key: string]: unknown }, token: { clientId?: string }) =>
          token.clientId === client.clientId || client['introspection_allowed'] === true,
      },
      revocation: { enabled: true },
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        certificateBoundAccessTokens: true,
        ...certificates.mTLS,
      },
      resourceIndicators: createResourceIndicators({
        find: deps.findResourceServer,
        defaultTtl: config.accessTokenTtl,
        signingAlg: 'ES256',
      }),
    } as Configuration['features'],
    ttl: {
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
    },
    renderError: async (ctx: KoaContextWithOIDC, out) => {
      // Browsers get the same JSON machines get: certbound has no HTML error page to render.
      ctx.type = 'json';
      ctx.body = out;
    },
  };

  const provider = new Provider(config.issuer, configuration);

  // Outermost first: the reporter sees the final answer after structuredTokens had its say.
  provider.use(createRefusalReporter(provider, deps.logger, aliases.token_endpoint));
  provider.use(certificates.middleware);
  provider.use(createStructuredTokenEndpoints({
    issuer: config.issuer,
    publicJwks: publicJwks(deps.jwks),
    algorithms: [...SIGNING_ALGS],
    revocations: deps.revocations,
    logger: deps.logger,
  }));
  return provider;
}
