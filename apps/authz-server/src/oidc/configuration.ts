// The one function that builds the oidc-provider configuration from the typed config, the
// adapter factory and the callbacks in oidc/. Every option that differs from oidc-provider's
// default carries a comment saying why.
import type { JSONWebKeySet } from 'jose';
import type { Middleware } from 'koa';
import { Provider, type Configuration } from 'oidc-provider';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { createClientCertificateChecks, type CertificateSource } from './client-certificate.ts';
import type { VerdictCache } from '../mtls/connection-verdict.ts';
import { createResourceIndicators, type ResourceServerRecord } from './resource-indicators.ts';
import { createRefusalReporter, renderError } from './errors.ts';
import { createHostHeaderCheck } from '../http/host-header.ts';
import { logAppErrors } from '../http/app-errors.ts';
import { createStructuredTokenEndpoints, type ClientRevocations, type RevocationList } from './structured-tokens.ts';
import { withClientDefaults, type AdapterFactory } from './client-defaults.ts';
import type { KvStore } from '../storage/kv/kv.ts';
import { oidcFindAccount, type AccountSource } from '../accounts/account-source.ts';
import { dpopFeature, installAtomicReplayDetection } from './dpop.ts';
import { authorizationCodeTtl, fapiFeature } from './fapi.ts';
import { applyClientPolicy } from './client-policy.ts';
import { GRANT_TTL, issueRefreshToken, refreshTokenTtl, rotateRefreshToken } from './refresh-tokens.ts';
import { acceptPublishedAudiences } from './client-assertion-audience.ts';
import { AUTH_METHODS, SIGNING_ALGS, STATIC_SCOPES, publicJwkMembers } from './vocabulary.ts';
import { createInteractionRoutes, INTERACTION_TTL, SESSION_TTL } from '../interactions/routes.ts';

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
  /** Revoked or disabled clients (/admin/v1): their tokens issued until then are inactive at introspection. */
  clientRevocations?: ClientRevocations;
  /** 32 bytes shared by every instance: DPoP server nonces (oidc/dpop.ts). */
  dpopNonceSecret: Buffer;
  /** The short-lived store, for atomic DPoP / assertion `jti` replay detection. */
  kv: KvStore;
  /** Where end-users are found and authenticated (accounts/account-source.ts). */
  accounts: AccountSource;
}

/** oidc-provider's default routes of the endpoints a client calls with its credentials. */
const CLIENT_ENDPOINTS = {
  token_endpoint: '/token',
  introspection_endpoint: '/token/introspection',
  revocation_endpoint: '/token/revocation',
  pushed_authorization_request_endpoint: '/request',
  userinfo_endpoint: '/me',
} as const;

function endpointsAt(origin: string): Record<keyof typeof CLIENT_ENDPOINTS, string> {
  return Object.fromEntries(Object.entries(CLIENT_ENDPOINTS).map(([name, path]) => [name, `${origin}${path}`])) as Record<keyof typeof CLIENT_ENDPOINTS, string>;
}

export function mtlsEndpointAliases(config: Config) {
  return endpointsAt(config.mtlsBaseUrl);
}

export function publicJwks(jwks: JSONWebKeySet): JSONWebKeySet {
  return { keys: jwks.keys.map(publicJwkMembers) };
}

/** The first middleware of the oidc-provider routes' own stack, per provider. */
const ENGINE_STACK_START = new WeakMap<Provider, unknown>();

/**
 * Mounts `middleware` after the Host check and before the middleware of oidc-provider's routes
 * (certificate verdicts, refusal reporting, structured tokens, interactions), so a request it
 * answers (/admin) never passes through them. `provider.use` would append it after them: in
 * oidc-provider 9 it inserts each middleware just before the engine's own router.
 */
export function mountBeforeEngine(provider: Provider, middleware: Middleware): void {
  const start = ENGINE_STACK_START.get(provider);
  const at = start ? provider.middleware.indexOf(start as (typeof provider.middleware)[number]) : -1;
  if (at < 0) throw new Error('mountBeforeEngine: the provider was not built by createProvider');
  provider.middleware.splice(at, 0, middleware as (typeof provider.middleware)[number]);
}

export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const aliases = mtlsEndpointAliases(config);
  const certificates = createClientCertificateChecks({ source: deps.certificateSource, verdicts: deps.verdicts, mtlsTokenEndpoint: aliases.token_endpoint });

  const configuration: Configuration = {
    adapter: withClientDefaults(deps.adapterFactory, STATIC_SCOPES) as unknown as Configuration['adapter'],
    jwks: deps.jwks as Configuration['jwks'],
    scopes: [...STATIC_SCOPES],
    cookies: { keys: deps.cookieKeys },
    // Machine clients first: certificates, or a signed assertion; shared secrets are off.
    // `none`: public clients, always sender-constrained (client-policy.ts); never under FAPI 2.0.
    clientAuthMethods: [...AUTH_METHODS, ...(config.fapiProfile ? [] : ['none' as const])],
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'tls_client_auth',
      id_token_signed_response_alg: 'ES256',
    },
    extraClientMetadata: {
      // default_resource: the audience a client gets when it names none (RFC 8707 §2).
      // introspection_allowed: a resource server's client may introspect others' tokens.
      // resources: resource identifier -> the scopes of it the client holds (oidc/resource-indicators.ts).
      // fapi_profile: "2.0" puts one client under the FAPI 2.0 Security Profile (oidc/fapi.ts).
      // certificate_pinning: a tls_client_auth client accepts only its certificates registered
      // through /admin/v1; certificate_thumbprints: those, attached by storage/postgres/client-adapter.ts.
      properties: ['default_resource', 'introspection_allowed', 'resources', 'fapi_profile', 'certificate_pinning', 'certificate_thumbprints'],
      validator(_ctx, key, value, metadata) {
        if (key === 'certificate_pinning' && value !== undefined && typeof value !== 'boolean') {
          throw new Error('certificate_pinning must be a boolean');
        }
        if (key === 'certificate_thumbprints' && value !== undefined && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
          throw new Error('certificate_thumbprints must be an array of strings');
        }
        // Called once per property; the whole-client rules run once, with fapi_profile's turn.
        if (key === 'fapi_profile') applyClientPolicy(metadata as Record<string, unknown>, config.fapiProfile);
        if (key === 'default_resource' && value !== undefined && (typeof value !== 'string' || !URL.canParse(value))) {
          throw new Error('default_resource must be an absolute URI');
        }
        if (key === 'resources' && value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)
          || !Object.values(value).every((scopes) => Array.isArray(scopes) && scopes.every((s) => typeof s === 'string')))) {
          throw new Error('resources must map resource identifiers to arrays of scopes');
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
    // Authorization code flow only: no implicit or hybrid tokens in the front channel (RFC 9700 §2.1.2).
    responseTypes: ['code'],
    // RFC 7636 S256 (the only method oidc-provider offers) on every authorization request (RFC 9700 §2.1.1).
    pkce: { required: () => true },
    findAccount: oidcFindAccount(deps.accounts) as unknown as Configuration['findAccount'],
    // The login and consent pages live on the public listener, whatever host the request used.
    interactions: { url: async (_ctx, interaction) => `${config.issuer}/interaction/${interaction.uid}` },
    issueRefreshToken: issueRefreshToken as unknown as Configuration['issueRefreshToken'],
    rotateRefreshToken,
    // Delegated access outlives the browser session that granted it (revoked with the grant).
    expiresWithSession: async () => false,
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
      dPoP: dpopFeature(deps.dpopNonceSecret),
      pushedAuthorizationRequests: {
        enabled: true,
        // FAPI 2.0 SP §5.3.2.2: PAR for every client; otherwise per client (require_pushed_authorization_requests).
        requirePushedAuthorizationRequests: config.fapiProfile === '2.0',
        allowUnregisteredRedirectUris: false,
      },
      fapi: fapiFeature(config.fapiProfile),
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
        adminClientIds: config.adminClientIds,
      }),
    } as Configuration['features'],
    ttl: {
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
      AuthorizationCode: (ctx) => authorizationCodeTtl(ctx),
      // Also binds the new refresh token to the request's DPoP key (oidc/refresh-tokens.ts).
      RefreshToken: (ctx, token) => refreshTokenTtl(ctx, token as Parameters<typeof refreshTokenTtl>[1]),
      Grant: GRANT_TTL,
      Interaction: INTERACTION_TTL,
      Session: SESSION_TTL,
    },
    // A person's browser gets a page; machines get the JSON error (oidc/errors.ts).
    renderError,
  };

  const provider = new Provider(config.issuer, configuration);
  installAtomicReplayDetection(provider, deps.kv);
  // A client assertion may name either published URL of the endpoint it authenticates at
  // (userinfo takes no client authentication).
  const { userinfo_endpoint: _public, ...publicEndpoints } = endpointsAt(config.issuer);
  const { userinfo_endpoint: _mtls, ...mtlsEndpoints } = aliases;
  acceptPublishedAudiences(provider, [...Object.values(publicEndpoints), ...Object.values(mtlsEndpoints)]);

  // An error no middleware answered: one structured line, not Koa's stack on stderr.
  logAppErrors(provider, deps.logger);
  // Before anything builds a URL from the Host header (oidc-provider's urlFor): 400, not 500.
  provider.use(createHostHeaderCheck(deps.logger));
  // Everything below serves oidc-provider's routes; mountBeforeEngine puts /admin in front of it.
  const refusals = createRefusalReporter(provider, deps.logger, aliases.token_endpoint);
  ENGINE_STACK_START.set(provider, refusals);
  // Outermost: one log line per refusal, once the answer is final (structuredTokens may answer instead).
  provider.use(refusals);
  provider.use(certificates.middleware);
  provider.use(createStructuredTokenEndpoints({
    issuer: config.issuer,
    publicJwks: publicJwks(deps.jwks),
    algorithms: [...SIGNING_ALGS],
    revocations: deps.revocations,
    ...(deps.clientRevocations ? { clientRevocations: deps.clientRevocations } : {}),
    logger: deps.logger,
  }));
  provider.use(createInteractionRoutes({
    provider, accounts: deps.accounts, issuer: config.issuer, cookieKey: deps.cookieKeys[0]!, logger: deps.logger,
  }));
  return provider;
}
