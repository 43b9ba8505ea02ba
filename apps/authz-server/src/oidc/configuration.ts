// The one function that builds the oidc-provider configuration from the typed config, the
// adapter factory and the callbacks in oidc/. Every option that differs from oidc-provider's
// default carries a comment saying why.
import type { JSONWebKeySet } from 'jose';
import { Provider, type AdapterFactory, type Configuration } from 'oidc-provider';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { createClientCertificateChecks, type CertificateSource } from './client-certificate.ts';
import type { VerdictCache } from '../mtls/connection-verdict.ts';
import { createResourceIndicators, type ResourceServerRecord } from './resource-indicators.ts';
import { createRefusalReporter, describeEngineRefusal, renderError } from './errors.ts';
import { createHostHeaderCheck } from '../http/host-header.ts';
import { logAppErrors } from '../http/app-errors.ts';
import { createStructuredTokens, type ClientRevocations, type RevocationList } from './structured-tokens.ts';
import { certboundAdapter } from './adapter.ts';
import type { KvStore } from '../storage/kv/kv.ts';
import type { RecentRefusals } from '../storage/kv/recent-refusals.ts';
import { oidcFindAccount, type AccountSource } from '../accounts/account-source.ts';
import { dpopFeature, refuseReplayedProof } from './dpop.ts';
import { authorizationCodeTtl, fapiFeature } from './fapi.ts';
import { extraClientMetadata } from './client-metadata.ts';
import { GRANT_TTL, issueRefreshToken, refreshTokenTtl, rotateRefreshToken } from './refresh-tokens.ts';
import { installEnginePatches } from './engine-patches.ts';
import { AUTH_METHODS, CONSOLE_CLIENT_ID, SIGNING_ALGS, STATIC_SCOPES, publicJwkMembers } from './vocabulary.ts';
import { CONSOLE_ACCESS_TOKEN_TTL, CONSOLE_SESSION_MAX_AGE, loadConsoleGrant } from './console-grant.ts';
import { hasAdminRole } from '../accounts/account-source.ts';
import { createInteractionRoutes, INTERACTION_TTL, SESSION_TTL } from '../interactions/routes.ts';
import { logoutPage, signedOutPage } from '../interactions/pages.ts';
import { PAGE_HEADERS, SafeHtml } from '../interactions/html.ts';

export interface ProviderDeps {
  config: Config;
  logger: Logger;
  adapterFactory: AdapterFactory;
  /** Private signing keys, ES256 first. */
  jwks: JSONWebKeySet;
  cookieKeys: string[];
  certificateSource: CertificateSource;
  verdicts: VerdictCache;
  findResourceServer: (identifier: string) => Promise<ResourceServerRecord | undefined>;
  revocations: RevocationList;
  /** Revoked or disabled clients (/admin/v1): their tokens issued until then are inactive at introspection. */
  clientRevocations?: ClientRevocations;
  /** A revoked certificate certbound issued (enrollment/): the tokens bound to it are inactive at introspection. */
  certificateRevoked?: (x5t: string) => Promise<boolean>;
  /** 32 bytes shared by every instance: DPoP server nonces (oidc/dpop.ts). */
  dpopNonceSecret: Buffer;
  /** The short-lived store, for atomic DPoP / assertion `jti` replay detection. */
  kv: KvStore;
  /** Where end-users are found and authenticated (accounts/account-source.ts). */
  accounts: AccountSource;
  /** The console's recent refusals (storage/kv/recent-refusals.ts), recorded by the refusal reporter. */
  recentRefusals?: RecentRefusals;
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
  const at = (path: string) => `${origin}${path}`;
  return {
    token_endpoint: at(CLIENT_ENDPOINTS.token_endpoint),
    introspection_endpoint: at(CLIENT_ENDPOINTS.introspection_endpoint),
    revocation_endpoint: at(CLIENT_ENDPOINTS.revocation_endpoint),
    pushed_authorization_request_endpoint: at(CLIENT_ENDPOINTS.pushed_authorization_request_endpoint),
    userinfo_endpoint: at(CLIENT_ENDPOINTS.userinfo_endpoint),
  };
}

/** The endpoints the console's page calls, all on the public listener (oidc-provider's default routes). */
export function consoleEndpoints(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}${CLIENT_ENDPOINTS.token_endpoint}`,
    revocation_endpoint: `${issuer}${CLIENT_ENDPOINTS.revocation_endpoint}`,
    end_session_endpoint: `${issuer}/session/end`,
  };
}

export function mtlsEndpointAliases(config: Config) {
  return endpointsAt(config.mtlsBaseUrl);
}

export function publicJwks(jwks: JSONWebKeySet): JSONWebKeySet {
  return { keys: jwks.keys.map(publicJwkMembers) };
}

// The admin API mounts in front of certbound's middleware on oidc-provider's routes (main.ts).
export { mountBeforeEngine } from './engine-patches.ts';

export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const aliases = mtlsEndpointAliases(config);
  // Introspection and revocation of certbound's JWT access tokens, answered by the engine (oidc/structured-tokens.ts).
  const structured = createStructuredTokens({
    issuer: config.issuer,
    publicJwks: publicJwks(deps.jwks),
    algorithms: [...SIGNING_ALGS],
    revocations: deps.revocations,
    ...(deps.clientRevocations ? { clientRevocations: deps.clientRevocations } : {}),
    ...(deps.certificateRevoked ? { certificateRevoked: deps.certificateRevoked } : {}),
    logger: deps.logger,
  });
  const certificates = createClientCertificateChecks({ source: deps.certificateSource, verdicts: deps.verdicts, mtlsTokenEndpoint: aliases.token_endpoint });

  const isAdminPerson = (accountId: string) => hasAdminRole(deps.accounts, accountId);

  const configuration: Configuration = {
    // Client defaults, and certbound's refusals as the engine reads a client or refresh token (oidc/adapter.ts).
    adapter: certboundAdapter(deps.adapterFactory, { staticScopes: STATIC_SCOPES, mtlsTokenEndpoint: aliases.token_endpoint, structured }),
    jwks: deps.jwks,
    scopes: [...STATIC_SCOPES],
    cookies: { keys: deps.cookieKeys },
    // Machine clients first: certificates, or a signed assertion; shared secrets are off.
    // `none`: public clients, always sender-constrained (client-metadata.ts); never under FAPI 2.0.
    clientAuthMethods: [...AUTH_METHODS, ...(config.fapiProfile ? [] : ['none' as const])],
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'tls_client_auth',
      id_token_signed_response_alg: 'ES256',
    },
    // certbound's own client metadata and the rules oidc-provider's schema does not know (oidc/client-metadata.ts).
    extraClientMetadata: extraClientMetadata(config.fapiProfile),
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
    findAccount: oidcFindAccount(deps.accounts),
    // The login and consent pages live on the public listener, whatever host the request used.
    interactions: { url: async (_ctx, interaction) => `${config.issuer}/interaction/${interaction.uid}` },
    issueRefreshToken,
    rotateRefreshToken,
    // The console is certbound's own page: no consent screen; it holds the admin scope only for
    // a person with the admin role (also checked as each token is minted: resource-indicators.ts).
    loadExistingGrant: async (ctx) => loadConsoleGrant(ctx, isAdminPerson),
    // Delegated access outlives the browser session that granted it (revoked with the grant) —
    // except the console's: signing out at certbound (any tab) revokes its grant, and with it
    // the refresh token (oidc-provider's end_session revokes the grants that do not persist logout).
    expiresWithSession: async (_ctx, token) => token.clientId === CONSOLE_CLIENT_ID,
    discovery: {
      // RFC 8705 §5: certificate-authenticating clients use the mutual-TLS listener.
      mtls_endpoint_aliases: aliases,
    },
    features: {
      // No login UI in the client-credentials core; the interaction pages come with the
      // authorization-code flow.
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // RFC 7662 §2.1: a client sees its own tokens, a resource server's client (introspection_allowed)
        // any; a token issued before its client was revoked through /admin/v1 is inactive.
        allowedPolicy: structured.introspectionAllowed,
      },
      // RFC 7009 §2.1: another client's token is refused, naming why.
      revocation: { enabled: true, allowedPolicy: structured.revocationAllowed },
      dPoP: dpopFeature(deps.dpopNonceSecret),
      pushedAuthorizationRequests: {
        enabled: true,
        // FAPI 2.0 SP §5.3.2.2: PAR for every client; otherwise per client (require_pushed_authorization_requests).
        requirePushedAuthorizationRequests: config.fapiProfile === '2.0',
        allowUnregisteredRedirectUris: false,
      },
      fapi: fapiFeature(config.fapiProfile),
      // Sign-out (the console's, and any client's): certbound's own pages, under the interaction
      // pages' headers (no framing: a framed "Yes, sign me out" could be clickjacked; no web fonts).
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.set(PAGE_HEADERS);
          ctx.body = logoutPage(ctx.host, new SafeHtml(form));
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.set(PAGE_HEADERS);
          ctx.body = signedOutPage(ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId);
        },
      },
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
        isAdminPerson,
      }),
    },
    ttl: {
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
      // A console token is a JWT that no sign-out can recall from another tab: 5 minutes at most.
      AccessToken: (_ctx, token, client) => Math.min(
        token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
        client.clientId === CONSOLE_CLIENT_ID ? CONSOLE_ACCESS_TOKEN_TTL : Number.MAX_SAFE_INTEGER,
      ),
      AuthorizationCode: (ctx) => authorizationCodeTtl(ctx),
      // Also binds the new refresh token to the request's DPoP key (oidc/refresh-tokens.ts). The
      // console's expires after CONSOLE_IDLE_TIMEOUT unused (rotation renews it): its idle limit.
      RefreshToken: (ctx, token, client) => (client.clientId === CONSOLE_CLIENT_ID
        ? Math.min(refreshTokenTtl(ctx, token), config.consoleIdleTimeout)
        : refreshTokenTtl(ctx, token)),
      // A console session's absolute limit: its grant, and with it every token, ends after 8 hours.
      Grant: (_ctx, grant) => (grant.clientId === CONSOLE_CLIENT_ID ? CONSOLE_SESSION_MAX_AGE : GRANT_TTL),
      Interaction: INTERACTION_TTL,
      Session: SESSION_TTL,
    },
    // A person's browser gets a page; machines get the JSON error (oidc/errors.ts).
    renderError,
  };

  const provider = new Provider(config.issuer, configuration);
  // Everything below serves oidc-provider's routes; mountBeforeEngine puts /admin in front of it.
  // Outermost: one log line per refusal, once the answer is final.
  const refusals = createRefusalReporter(provider, deps.logger, deps.recentRefusals);
  // A client assertion may name either published URL of the endpoint it authenticates at
  // (userinfo takes no client authentication).
  const { userinfo_endpoint: _public, ...publicEndpoints } = endpointsAt(config.issuer);
  const { userinfo_endpoint: _mtls, ...mtlsEndpoints } = aliases;
  // Refuses to start on an oidc-provider other than the one the patches were written against.
  installEnginePatches(provider, {
    kv: deps.kv,
    assertionAudiences: [...Object.values(publicEndpoints), ...Object.values(mtlsEndpoints)],
    onReplay: refuseReplayedProof,
    tokenParameter: structured.refer,
    describeRefusal: describeEngineRefusal,
    stackStart: refusals,
  });

  // An error no middleware answered: one structured line, not Koa's stack on stderr.
  logAppErrors(provider, deps.logger);
  // Before anything builds a URL from the Host header (oidc-provider's urlFor): 400, not 500.
  provider.use(createHostHeaderCheck(deps.logger));
  provider.use(refusals);
  provider.use(certificates.middleware);
  provider.use(createInteractionRoutes({
    provider, accounts: deps.accounts, issuer: config.issuer, cookieKey: deps.cookieKeys[0], logger: deps.logger,
  }));
  return provider;
}
