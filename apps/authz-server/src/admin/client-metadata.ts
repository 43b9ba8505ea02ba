// Validation of RFC 7591 client metadata against what certbound supports, before anything is
// stored: every refusal is 400 invalid_client_metadata "<field>: <problem>". After certbound's
// own checks the metadata also goes through oidc-provider's client schema (Client.validate), so
// nothing stored here can fail later at the token endpoint.
import { randomBytes, type X509Certificate } from 'node:crypto';
import type { ClientMetadata } from '../storage/postgres/clients.ts';
import { parseDn } from '../mtls/dn-string.ts';
import { dnPreparationProblem } from '../mtls/subject-dn.ts';
import { parseIp } from '../mtls/ip-address.ts';
import { type AdminError, invalidMetadata } from './errors.ts';
import { refuseUnknownFields } from './body.ts';
import { certificateJwk, certificateOfJwk } from './certificates.ts';
import { ADMIN_RESOURCE, mayHoldResource, scopesToResources, type HeldResources } from '../oidc/resource-indicators.ts';
import { AUTH_METHODS, SCOPE_TOKEN, SUBJECT_MATCHERS, privateJwkMember, type AuthMethod, type SubjectMatcher } from '../oidc/vocabulary.ts';

/** authorization_code needs redirect_uris and response_types ["code"]; refresh_token rides on it. */
export const GRANT_TYPES = ['client_credentials', 'authorization_code', 'refresh_token'] as const;
export const RESPONSE_TYPES = ['code'] as const;

/** Fields a client representation may carry: RFC 7591/8705 names plus certbound's own. */
export const CLIENT_FIELDS: ReadonlySet<string> = new Set([
  'client_id',
  'client_name',
  'contacts',
  'token_endpoint_auth_method',
  'token_endpoint_auth_signing_alg',
  ...SUBJECT_MATCHERS,
  'tls_client_certificate_bound_access_tokens',
  'grant_types',
  'response_types',
  'redirect_uris',
  'scope',
  // certbound: resource identifier -> the scopes of that resource server the client holds
  'resources',
  'default_resource',
  'introspection_allowed',
  'dpop_bound_access_tokens',
  'require_pushed_authorization_requests',
  'fapi_profile',
  'jwks',
  // certbound: for tls_client_auth, accept only the certificates registered through /certificates
  'certificate_pinning',
  // certbound enrollment (EST): the lifetime of its issued certificates; revoke the renewed one at re-enrollment
  'issued_cert_ttl',
  'revoke_previous_on_renewal',
  // certbound: a disabled client gets no token (stored in its own column, not in the metadata)
  'disabled',
]);

// RFC 6749 Appendix A.1 VSCHAR, without the space: a client_id is also a path segment.
const CLIENT_ID = /^[\x21-\x7e]{1,255}$/;

/** Could this be a client_id of this API (1 to 255 visible ASCII characters)? Query filters ask it too. */
export function isClientId(value: string): boolean {
  return CLIENT_ID.test(value);
}

export interface ClientValidationContext {
  /** 'create' generates a client_id when absent; 'replace' needs the path's. */
  mode: 'create' | 'replace';
  pathClientId?: string;
  /** identifier -> scopes of every registered resource server */
  resourceServers: ReadonlyMap<string, readonly string[]>;
  /** scopes oidc-provider knows statically (openid, offline_access) */
  staticScopes: ReadonlySet<string>;
  /** ADMIN_CLIENT_IDS: the only clients that may hold ADMIN_RESOURCE */
  adminClientIds: readonly string[];
  signingAlgs: readonly string[];
  /** CLIENT_CERT_MIN_RSA_BITS: self-signed certificates in jwks meet the token endpoint's floor */
  minRsaBits?: number;
  /** oidc-provider's own client validation (throws its InvalidClientMetadata) */
  validateWithProvider(metadata: ClientMetadata): Promise<void>;
}

export interface ValidatedClient {
  metadata: ClientMetadata;
  /** undefined: not given (create: false; replace: unchanged) */
  disabled: boolean | undefined;
  /** self_signed_tls_client_auth: the certificates of its jwks, in order */
  certificates: X509Certificate[];
}

const fail = invalidMetadata;

function string(body: Record<string, unknown>, field: string, max = 2048): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw fail(field, 'must be a non-empty string');
  if (value.length > max) throw fail(field, `must be at most ${max} characters`);
  return value;
}

function boolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw fail(field, 'must be true or false');
  return value;
}

function stringArray(body: Record<string, unknown>, field: string, max = 50): string[] | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw fail(field, 'must be an array of strings');
  if (value.length > max) throw fail(field, `must have at most ${max} members`);
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item === '' || item.length > 2048) throw fail(`${field}[${i}]`, 'must be a non-empty string');
  });
  if (new Set(value).size !== value.length) throw fail(field, 'must not repeat a value');
  return value as string[];
}

function oneOf<T extends string>(field: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw fail(field, `"${value.slice(0, 100)}" is not supported; use ${allowed.join(', ')}`);
  return value as T;
}

/**
 * RFC 8705 §2.1.2: the one subject matcher, checked so it can match a certificate. An empty or
 * blank matcher is refused outright: RFC 4514 §3 reads "" and " " as the empty DN, which is the
 * subject of every SAN-only certificate (RFC 5280 §4.1.2.6), so storing it would let any such
 * certificate from a trusted CA in.
 */
function subjectMatcher(body: Record<string, unknown>, field: SubjectMatcher): string {
  const raw = body[field];
  if (typeof raw === 'string' && raw.trim() === '') throw fail(field, 'must not be empty');
  const value = string(body, field)!;
  switch (field) {
    case 'tls_client_auth_subject_dn': {
      let rdns;
      try {
        rdns = parseDn(value);
      } catch (err) {
        throw fail(field, `is not an RFC 4514 distinguished name (${(err as Error).message})`);
      }
      if (rdns.length === 0) throw fail(field, 'must not be empty');
      // RFC 4518 §2.4: such a value fails string preparation, so the DN would never match.
      const problem = dnPreparationProblem(rdns);
      if (problem !== undefined) throw fail(field, `${problem} (RFC 4518 §2.4); this DN could never match a certificate`);
      return value;
    }
    case 'tls_client_auth_san_ip':
      if (!parseIp(value)) throw fail(field, 'is not an IPv4 or IPv6 address');
      return value;
    case 'tls_client_auth_san_uri':
      if (!URL.canParse(value)) throw fail(field, 'is not an absolute URI');
      return value;
    case 'tls_client_auth_san_email':
      if (!/^[^@\s]+@[^@\s]+$/.test(value)) throw fail(field, 'is not an email address');
      return value;
    case 'tls_client_auth_san_dns':
      if (!/^[A-Za-z0-9*_-]+(\.[A-Za-z0-9*_-]+)*\.?$/.test(value)) throw fail(field, 'is not a DNS name');
      return value;
  }
}

/** https, or http on a loopback address for native apps (RFC 8252 §7.3); never a fragment. */
function redirectUri(field: string, value: string): void {
  const url = URL.parse(value);
  const loopback = url?.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === '[::1]');
  if (!url || (url.protocol !== 'https:' && !loopback)) throw fail(field, 'must be an https URL (or http://127.0.0.1 / http://[::1] for a native app, RFC 8252 §7.3)');
  if (url.hash || value.includes('#')) throw fail(field, 'must not carry a fragment (RFC 6749 §3.1.2)');
}

/** jwks: public keys only; for self-signed clients each key carries its certificate. */
function jwksOf(
  body: Record<string, unknown>,
  method: AuthMethod,
  minRsaBits: number | undefined,
): { keys: Record<string, unknown>[]; certificates: X509Certificate[] } | undefined {
  const jwks = body.jwks;
  if (jwks === undefined) return undefined;
  if (method === 'tls_client_auth') throw fail('jwks', 'is not used with tls_client_auth; register certificates through /certificates');
  if (jwks === null || typeof jwks !== 'object' || Array.isArray(jwks) || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw fail('jwks', 'must be a JWK Set: {"keys": [...]}');
  }
  const extra = Object.keys(jwks).find((k) => k !== 'keys');
  if (extra !== undefined) throw fail(`jwks.${extra.slice(0, 100)}`, 'unknown field');
  const keys = (jwks as { keys: unknown[] }).keys;
  if (keys.length > 20) throw fail('jwks.keys', 'must have at most 20 keys');
  const certificates: X509Certificate[] = [];
  const out: Record<string, unknown>[] = [];
  keys.forEach((key, i) => {
    const field = `jwks.keys[${i}]`;
    if (key === null || typeof key !== 'object' || Array.isArray(key)) throw fail(field, 'must be a JWK object');
    const jwk = key as Record<string, unknown>;
    const secret = privateJwkMember(jwk);
    // The value is neither stored nor repeated: only the member's name.
    if (secret !== undefined) throw fail(`${field}.${secret}`, 'is private key material; register public keys only');
    if (!['EC', 'RSA', 'OKP'].includes(String(jwk.kty))) throw fail(`${field}.kty`, 'must be EC, RSA or OKP (asymmetric keys only)');
    if (method === 'self_signed_tls_client_auth') {
      const cert = certificateOfJwk(jwk, field, fail, minRsaBits);
      if (certificates.some((c) => c.fingerprint256 === cert.fingerprint256)) throw fail(field, 'repeats a certificate of another key');
      certificates.push(cert);
      out.push(certificateJwk(cert)); // stored in canonical form: {kty..., x5c}
    } else {
      out.push(jwk);
    }
  });
  return { keys: out, certificates };
}

/** oidc-provider's messages start with the property ("redirect_uris must contain members"). */
function providerRefusal(err: unknown): AdminError {
  const description = (err as { error_description?: unknown }).error_description;
  const text = typeof description === 'string' ? description : 'rejected by the client schema';
  const [first, ...rest] = text.split(' ');
  return CLIENT_FIELDS.has(first) && rest.length ? fail(first, rest.join(' ')) : fail('metadata', text);
}

/** `resources["https://x"]`: the JSON path of one member, as the 400s name it. */
const memberPath = (identifier: string) => `resources[${JSON.stringify(identifier.slice(0, 200))}]`;

const MAX_RESOURCES = 50;

/**
 * The resource servers the client holds and its scopes on each (DESIGN.md: scopes belong to a
 * resource server). `resources` is the form stored and answered; `scope` (RFC 7591 §2) still
 * works where each of its scopes belongs to exactly one registered resource server, which it is
 * mapped to (both may be given: their union is held). `scope` keeps only openid/offline_access.
 * `default_resource` must be a held resource; in a registration without `resources` (the `scope`
 * form) it is held with whatever scopes `scope` maps to it, possibly none, as before.
 * ADMIN_RESOURCE is held only by ADMIN_CLIENT_IDS.
 */
function resourcesOf(
  body: Record<string, unknown>,
  ctx: ClientValidationContext,
  clientId: string,
): { statics: string[]; resources: HeldResources; defaultResource: string | undefined } {
  // Where each held resource came from, so a refusal names the field the caller wrote.
  const origin = new Map<string, string>();
  const resources: HeldResources = {};

  const statics: string[] = [];
  const scope = body.scope;
  if (scope !== undefined) {
    if (typeof scope !== 'string' || scope.length > 4096) throw fail('scope', 'must be a space-separated string of scopes');
    const scopes = scope.split(' ').filter(Boolean);
    for (const s of scopes) {
      if (!SCOPE_TOKEN.test(s)) throw fail('scope', `"${s.slice(0, 100)}" is not a scope token (RFC 6749 §3.3)`);
    }
    if (new Set(scopes).size !== scopes.length) throw fail('scope', 'must not repeat a scope');
    statics.push(...scopes.filter((s) => ctx.staticScopes.has(s)));
    const mapped = scopesToResources(scopes.filter((s) => !ctx.staticScopes.has(s)), ctx.resourceServers);
    if (mapped.unknown !== undefined) throw fail('scope', `"${mapped.unknown.slice(0, 100)}" is not a scope of any registered resource server`);
    if (mapped.ambiguous !== undefined) {
      const { scope: shared, identifiers } = mapped.ambiguous;
      throw fail('scope', `"${shared}" is a scope of ${identifiers.length} resource servers (${identifiers.join(', ')}); name the one meant with resources: {"<identifier>": ["${shared}"]}`);
    }
    for (const [identifier, scopes] of Object.entries(mapped.resources)) {
      resources[identifier] = scopes;
      origin.set(identifier, 'scope');
    }
  }

  const given = body.resources;
  if (given !== undefined) {
    if (given === null || typeof given !== 'object' || Array.isArray(given)) throw fail('resources', 'must be an object mapping resource identifiers to arrays of scopes');
    const entries = Object.entries(given);
    if (entries.length > MAX_RESOURCES) throw fail('resources', `must name at most ${MAX_RESOURCES} resource servers`);
    for (const [identifier, scopes] of entries) {
      const field = memberPath(identifier);
      const defined = ctx.resourceServers.get(identifier);
      if (defined === undefined) throw fail(field, 'is not a registered resource server');
      if (!Array.isArray(scopes)) throw fail(field, 'must be an array of scopes of this resource server (empty: the audience without scopes)');
      scopes.forEach((s: unknown, i) => {
        if (typeof s !== 'string' || !SCOPE_TOKEN.test(s)) throw fail(`${field}[${i}]`, 'is not a scope token (RFC 6749 §3.3)');
        if (!defined.includes(s)) throw fail(`${field}[${i}]`, `"${s.slice(0, 100)}" is not a scope of this resource server (its scopes: ${defined.join(', ') || 'none'})`);
      });
      if (new Set(scopes).size !== scopes.length) throw fail(field, 'must not repeat a scope');
      const union = [...new Set([...(resources[identifier] ?? []), ...(scopes as string[])])];
      resources[identifier] = union;
      origin.set(identifier, field);
    }
  }

  const defaultResource = string(body, 'default_resource');
  if (defaultResource !== undefined) {
    if (!ctx.resourceServers.has(defaultResource)) throw fail('default_resource', `"${defaultResource.slice(0, 200)}" is not a registered resource server`);
    if (resources[defaultResource] === undefined) {
      if (given !== undefined) throw fail('default_resource', `"${defaultResource.slice(0, 200)}" is not one of the client's resources`);
      resources[defaultResource] = [];
      origin.set(defaultResource, 'default_resource');
    }
  }

  // DESIGN.md: the admin resource is granted only to the configured admin clients.
  if (resources[ADMIN_RESOURCE] !== undefined && !mayHoldResource(ADMIN_RESOURCE, clientId, ctx.adminClientIds)) {
    const field = origin.get(ADMIN_RESOURCE)!;
    const what = field === 'scope' ? `"${resources[ADMIN_RESOURCE].join(' ')}" is the scope of the admin API (${ADMIN_RESOURCE}), which` : `${ADMIN_RESOURCE} (the admin API)`;
    throw fail(field, `${what} is granted only to the admin clients (ADMIN_CLIENT_IDS: ${ctx.adminClientIds.join(', ')}), and "${clientId}" is not one`);
  }
  return { statics, resources, defaultResource };
}

export async function validateClientMetadata(body: Record<string, unknown>, ctx: ClientValidationContext): Promise<ValidatedClient> {
  if (body.client_secret !== undefined) throw fail('client_secret', 'client secrets are not supported; use tls_client_auth, self_signed_tls_client_auth or private_key_jwt');
  refuseUnknownFields(body, CLIENT_FIELDS, 'invalid_client_metadata');

  let clientId = string(body, 'client_id', 255);
  if (clientId !== undefined && !isClientId(clientId)) throw fail('client_id', 'must be 1 to 255 visible ASCII characters (no spaces)');
  if (ctx.mode === 'replace') {
    if (clientId !== undefined && clientId !== ctx.pathClientId) throw fail('client_id', 'differs from the client_id in the path; a client_id cannot change');
    clientId = ctx.pathClientId!;
  }
  clientId ??= randomBytes(16).toString('base64url');

  const method = oneOf('token_endpoint_auth_method', string(body, 'token_endpoint_auth_method') ?? 'tls_client_auth', AUTH_METHODS);
  const metadata: ClientMetadata = { client_id: clientId };
  const name = string(body, 'client_name', 255);
  if (name !== undefined) metadata.client_name = name;
  const contacts = stringArray(body, 'contacts', 20);
  if (contacts !== undefined) metadata.contacts = contacts;
  metadata.token_endpoint_auth_method = method;

  // RFC 8705 §2.1.2: exactly one subject matcher for tls_client_auth, none otherwise.
  const matchers = SUBJECT_MATCHERS.filter((m) => body[m] !== undefined);
  if (method === 'tls_client_auth') {
    if (matchers.length === 0) throw fail('tls_client_auth_subject_dn', `tls_client_auth needs exactly one of ${SUBJECT_MATCHERS.join(', ')}`);
    if (matchers.length > 1) throw fail(matchers[1], `tls_client_auth needs exactly one subject matcher, got ${matchers.join(' and ')}`);
    metadata[matchers[0]] = subjectMatcher(body, matchers[0]);
  } else if (matchers.length > 0) {
    throw fail(matchers[0], `is only used with token_endpoint_auth_method tls_client_auth, not ${method}`);
  }

  const alg = string(body, 'token_endpoint_auth_signing_alg');
  if (alg !== undefined) {
    if (method !== 'private_key_jwt') throw fail('token_endpoint_auth_signing_alg', 'is only used with private_key_jwt');
    metadata.token_endpoint_auth_signing_alg = oneOf('token_endpoint_auth_signing_alg', alg, ctx.signingAlgs);
  }

  const bound = boolean(body, 'tls_client_certificate_bound_access_tokens');
  if (bound !== undefined) metadata.tls_client_certificate_bound_access_tokens = bound;

  const grantTypes = stringArray(body, 'grant_types') ?? ['client_credentials'];
  if (grantTypes.length === 0) throw fail('grant_types', 'must name at least one grant type');
  grantTypes.forEach((g, i) => oneOf(`grant_types[${i}]`, g, GRANT_TYPES));
  metadata.grant_types = grantTypes;
  const responseTypes = stringArray(body, 'response_types') ?? [];
  responseTypes.forEach((r, i) => oneOf(`response_types[${i}]`, r, RESPONSE_TYPES));
  metadata.response_types = responseTypes;
  // RFC 7591 §2.1: response_type "code" goes with the authorization_code grant, both ways.
  if (responseTypes.includes('code') !== grantTypes.includes('authorization_code')) {
    throw responseTypes.includes('code')
      ? fail('grant_types', 'must include authorization_code when response_types includes code')
      : fail('response_types', 'must include code when grant_types includes authorization_code');
  }
  const redirectUris = stringArray(body, 'redirect_uris');
  if (redirectUris !== undefined) {
    redirectUris.forEach((uri, i) => redirectUri(`redirect_uris[${i}]`, uri));
    metadata.redirect_uris = redirectUris;
  }

  const held = resourcesOf(body, ctx, clientId);
  if (held.statics.length) metadata.scope = held.statics.join(' ');
  metadata.resources = held.resources;
  if (held.defaultResource !== undefined) metadata.default_resource = held.defaultResource;

  for (const flag of ['introspection_allowed', 'dpop_bound_access_tokens', 'require_pushed_authorization_requests'] as const) {
    const value = boolean(body, flag);
    if (value !== undefined) metadata[flag] = value;
  }
  const fapi = string(body, 'fapi_profile');
  if (fapi !== undefined) metadata.fapi_profile = oneOf('fapi_profile', fapi, ['2.0']);

  const jwks = jwksOf(body, method, ctx.minRsaBits);
  if (jwks) metadata.jwks = { keys: jwks.keys };
  // A self-signed client may start without certificates and receive them through /certificates.
  else if (method === 'self_signed_tls_client_auth') metadata.jwks = { keys: [] };
  else if (method === 'private_key_jwt') throw fail('jwks', 'private_key_jwt needs the public keys its assertions are signed with');

  const pinning = boolean(body, 'certificate_pinning');
  if (pinning !== undefined) {
    if (method !== 'tls_client_auth') throw fail('certificate_pinning', 'is only used with tls_client_auth (self-signed clients are pinned by their jwks)');
    metadata.certificate_pinning = pinning;
  }
  const issuedTtl = body.issued_cert_ttl;
  if (issuedTtl !== undefined) {
    if (typeof issuedTtl !== 'number' || !Number.isInteger(issuedTtl) || issuedTtl < 300 || issuedTtl > 397 * 86_400) {
      throw fail('issued_cert_ttl', `must be a whole number of seconds from 300 to ${397 * 86_400} (397 days)`);
    }
    metadata.issued_cert_ttl = issuedTtl;
  }
  const revokePrevious = boolean(body, 'revoke_previous_on_renewal');
  if (revokePrevious !== undefined) metadata.revoke_previous_on_renewal = revokePrevious;

  try {
    // A copy: oidc-provider annotates what it is given (x5t#S256 on every jwk with x5c).
    await ctx.validateWithProvider(structuredClone(metadata));
  } catch (err) {
    // InvalidClientMetadata, and its relatives such as invalid_redirect_uri: a 400 with a description.
    const refusal = err as { status?: unknown; error_description?: unknown };
    if (refusal.status === 400 && typeof refusal.error_description === 'string') throw providerRefusal(err);
    throw err;
  }
  return { metadata, disabled: boolean(body, 'disabled'), certificates: jwks?.certificates ?? [] };
}
