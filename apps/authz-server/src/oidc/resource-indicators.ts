// RFC 8707 resource indicators backed by the resource_servers table: which audiences exist, their
// scopes, token format and lifetime, and which of them a client holds. Scopes belong to a
// resource server, and a client holds scopes per resource server (client metadata `resources`,
// validated by admin/client-metadata.ts): a token is minted only for a resource the client
// holds, carrying only scopes from that resource's entry. The admin API's resource is held only
// by the clients named in ADMIN_CLIENT_IDS, whatever their metadata says.
//
// The checks, in order, each refusing with the error code and a description naming it:
//   1. a resource is named or defaulted (`default_resource`)      else invalid_target
//   2. it is a registered resource server                         else invalid_target
//   3. the admin resource only for ADMIN_CLIENT_IDS               else invalid_target
//   4. the client holds it (a key of `resources`)                 else invalid_target
//   5. sender-constrained tokens where the resource requires them else invalid_target
//   6. client_credentials: every requested scope is a scope of the resource and held by the
//      client on it                                               else invalid_scope
// A resource held with an empty scope list is held: its token carries the audience and no scope.
//
// A short in-process cache keeps the token endpoint off the database for every request while an
// admin change still lands within seconds.
import { ADMIN_ROLE } from '../accounts/account-source.ts';
import { CONSOLE_CLIENT_ID } from './vocabulary.ts';
import { errors, type KoaContextWithOIDC, type Client, type ResourceServer, type AsymmetricSigningAlgorithm } from 'oidc-provider';

/** The management API's resource indicator (RFC 8707): the audience of admin tokens. */
export const ADMIN_RESOURCE = 'urn:certbound:admin-api';
/** The admin resource's one scope; no other resource server may define it. */
export const ADMIN_SCOPE = 'admin';

export interface ResourceServerRecord {
  identifier: string;
  scopes: string[];
  token_format: 'jwt' | 'opaque';
  access_token_ttl: number | null;
  sender_constraint_required: boolean;
}

/** Client metadata `resources`: resource identifier -> the scopes of it the client holds. */
export type HeldResources = Record<string, string[]>;

const CACHE_MS = 2_000;

/** The client's `resources`, or an empty map when absent or not of that shape (fail closed). */
export function heldResources(metadata: { [key: string]: unknown }): HeldResources {
  const value = metadata['resources'];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  const held: HeldResources = {};
  for (const [identifier, scopes] of Object.entries(value)) {
    if (Array.isArray(scopes) && scopes.every((s): s is string => typeof s === 'string')) held[identifier] = scopes;
  }
  return held;
}

/** May this client hold the admin resource? (ADMIN_CLIENT_IDS) */
export function mayHoldResource(identifier: string, clientId: string, adminClientIds: readonly string[]): boolean {
  return identifier !== ADMIN_RESOURCE || adminClientIds.includes(clientId);
}

export interface ScopeMapping {
  resources: HeldResources;
  /** a scope no resource server defines */
  unknown?: string;
  /** a scope two or more resource servers define, with them */
  ambiguous?: { scope: string; identifiers: string[] };
}

/**
 * The legacy space-separated `scope` as `resources`: each scope goes to the one resource server
 * that defines it. A scope no resource server defines, or several do, is reported instead.
 */
export function scopesToResources(scopes: readonly string[], registered: ReadonlyMap<string, readonly string[]>): ScopeMapping {
  const resources: HeldResources = {};
  for (const scope of scopes) {
    const owners = [...registered].filter(([, defined]) => defined.includes(scope)).map(([identifier]) => identifier).sort();
    if (owners.length === 0) return { resources, unknown: scope };
    if (owners.length > 1) return { resources, ambiguous: { scope, identifiers: owners } };
    (resources[owners[0]] ??= []).push(scope);
  }
  return { resources };
}

export function createResourceIndicators(deps: {
  find(identifier: string): Promise<ResourceServerRecord | undefined>;
  defaultTtl: number;
  signingAlg: AsymmetricSigningAlgorithm;
  /** ADMIN_CLIENT_IDS: the only clients that may hold ADMIN_RESOURCE */
  adminClientIds: readonly string[];
  /** Has this account (enabled) the admin role? The console holds ADMIN_RESOURCE only for such people. */
  isAdminPerson(accountId: string): Promise<boolean>;
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

  /**
   * The console holds the admin resource for people with the admin role only. The account is
   * known once the person signed in (the code, refresh token or session names it); the
   * authorization request comes before that, and its token is refused at the token endpoint.
   */
  async function refuseUnlessAdminPerson(ctx: KoaContextWithOIDC, indicator: string): Promise<void> {
    // prompt=login: whoever is signed in now is about to be asked again (another person may
    // sign in); the person who signs in is checked when the request resumes.
    const prompt = ctx.oidc.params?.['prompt'];
    const relogin = ctx.oidc.route === 'authorization' && typeof prompt === 'string' && prompt.split(' ').includes('login');
    const accountId = relogin ? undefined : accountOf(ctx);
    if (accountId === undefined) {
      if (ctx.oidc.route === 'token') throw new errors.InvalidTarget(`resource "${indicator}" is granted to the console only for a signed-in person with the admin role`);
      return;
    }
    if (!await deps.isAdminPerson(accountId)) {
      throw new errors.InvalidTarget(`resource "${indicator}" is granted to the console only for people with the ${ADMIN_ROLE} role, and account "${accountId}" does not have it`);
    }
  }

  return {
    enabled: true,
    // A client registers the API it normally calls (`default_resource`), so the plain
    // client_credentials request needs no `resource` parameter. Every access token carries an
    // audience (DESIGN.md "Contracts"): with neither, the request is refused here rather than
    // answered with an audience-less token that any resource server might accept.
    async defaultResource(_ctx: KoaContextWithOIDC, client: Client, oneOf?: readonly string[]) {
      if (oneOf) return oneOf;
      const fallback = client['default_resource'];
      if (typeof fallback === 'string') return fallback;
      throw new errors.InvalidTarget(`no resource requested and client "${client.clientId}" has no default_resource; name the resource server with the resource parameter (RFC 8707)`);
    },
    async getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<ResourceServer> {
      const rs = await lookup(indicator);
      if (!rs) throw new errors.InvalidTarget(`resource "${indicator}" is not a registered resource server`);
      if (client.clientId === CONSOLE_CLIENT_ID && rs.identifier === ADMIN_RESOURCE) {
        await refuseUnlessAdminPerson(ctx, indicator);
      } else if (!mayHoldResource(rs.identifier, client.clientId, deps.adminClientIds)) {
        throw new errors.InvalidTarget(`resource "${indicator}" is granted only to the admin clients (ADMIN_CLIENT_IDS), and client "${client.clientId}" is not one`);
      }
      const held = heldResources({ resources: client.resources })[rs.identifier];
      if (held === undefined) throw new errors.InvalidTarget(`resource "${indicator}" is not granted to client "${client.clientId}"`);

      const senderConstrained = client.tlsClientCertificateBoundAccessTokens === true
        || client.dpopBoundAccessTokens === true || ctx.get('dpop') !== '';
      // Decided where tokens are minted: at the authorization and PAR endpoints a client may
      // still bind them at the token endpoint with a DPoP proof (RFC 9449 §10: dpop_jkt is optional).
      if (rs.sender_constraint_required && !senderConstrained && ctx.oidc.route === 'token') {
        throw new errors.InvalidTarget(`resource "${indicator}" accepts only sender-constrained tokens (mTLS or DPoP) and this client gets unbound tokens`);
      }

      // oidc-provider checks a client's registered `scope` only against its static scopes; the
      // client's resource-server scopes are applied here, per audience.
      const allowed = new Set(held);
      const asked = ctx.oidc.params?.['scope'];
      const requested = (typeof asked === 'string' ? asked : '').split(' ').filter(Boolean);
      const clientCredentials = ctx.oidc.params?.grant_type === 'client_credentials';
      // Only client_credentials names exactly one resource: elsewhere (authorization requests with
      // several resources, openid) a requested scope may belong to another resource or to the
      // authorization server, and oidc-provider filters per resource.
      const foreign = clientCredentials ? requested.find((s) => !rs.scopes.includes(s)) : undefined;
      if (foreign) throw new errors.InvalidScope(`scope "${foreign}" is not a scope of resource "${indicator}"`, foreign);
      const refused = requested.find((s) => rs.scopes.includes(s) && !allowed.has(s));
      if (refused) throw new errors.InvalidScope(`scope "${refused}" is not granted to client "${client.clientId}" on resource "${indicator}"`, refused);
      const scope = rs.scopes.filter((s) => allowed.has(s)).join(' ');
      // RFC 6749 §3.3: a request with no scope gets the registered default, here every scope the
      // client holds on this resource, rather than a token that can do nothing.
      if (requested.length === 0 && clientCredentials && scope && ctx.oidc.params) {
        ctx.oidc.params['scope'] = scope;
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

/** The signed-in person of this request: the code's or refresh token's account, else the session's. */
function accountOf(ctx: KoaContextWithOIDC): string | undefined {
  const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
  if (!oidc) return undefined;
  const { entities } = oidc;
  return entities.AuthorizationCode?.accountId ?? entities.RefreshToken?.accountId ?? oidc.account?.accountId ?? oidc.session?.accountId;
}
