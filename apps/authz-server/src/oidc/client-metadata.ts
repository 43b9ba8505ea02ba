// Client metadata as oidc-provider should see it: the defaults derived from the RFC 7591
// metadata stored for a client, the rules oidc-provider's schema does not know, and certbound's
// extra metadata with its validation.
// Defaults (applied whenever the Client adapter is read, oidc/adapter.ts):
// - RFC 8705 §3 certificate-bound access tokens are on for every client that authenticates
//   with a certificate unless its registration says otherwise;
// - `scope` keeps only the static scopes oidc-provider was configured with (openid,
//   offline_access). A client holds resource-server scopes per resource server in `resources`
//   (oidc/resource-indicators.ts); a resource-server scope left in a stored `scope` (written by an
//   instance older than db/migrations/0004) grants nothing and is dropped, so the client loads.
// Policy (applied whenever a client is loaded or registered, through extraClientMetadata.validator,
// which may adjust metadata):
// - a public client (token_endpoint_auth_method "none") must be sender-constrained, by
//   certificate (RFC 8705 §4) or DPoP (RFC 9449 §5), and cannot use client_credentials;
// - a FAPI 2.0 client (its own `fapi_profile` or FAPI_PROFILE) is confidential, must use PAR, and
//   always gets sender-constrained tokens: by its certificate when it authenticates with one,
//   otherwise by DPoP (FAPI 2.0 SP §5.3.2.1, §5.3.2.2).
import { errors, type AdapterPayload, type AllClientMetadata, type Configuration } from 'oidc-provider';
import { fapiProfileOf, type FapiProfile } from './fapi.ts';
import { CERTIFICATE_AUTH_METHODS } from './vocabulary.ts';

export function applyClientDefaults(stored: AdapterPayload, staticScopes: ReadonlySet<string>): AdapterPayload {
  const metadata: AdapterPayload = { ...stored };
  const method = metadata.token_endpoint_auth_method ?? 'tls_client_auth';
  if (CERTIFICATE_AUTH_METHODS.has(method) && metadata.tls_client_certificate_bound_access_tokens === undefined) {
    metadata.tls_client_certificate_bound_access_tokens = true;
  }
  if (typeof metadata.scope === 'string') {
    const scopes = metadata.scope.split(' ').filter(Boolean);
    const statics = scopes.filter((s) => staticScopes.has(s));
    if (statics.length) metadata.scope = statics.join(' ');
    else delete metadata.scope;
  }
  return metadata;
}

function refuse(description: string): never {
  throw new errors.InvalidClientMetadata(description);
}

export function applyClientPolicy(metadata: AllClientMetadata, serverProfile: FapiProfile | undefined): void {
  const declared = metadata['fapi_profile'];
  if (declared !== undefined && declared !== '2.0') refuse('fapi_profile must be "2.0" when present');

  const method = metadata.token_endpoint_auth_method ?? 'tls_client_auth';
  const certBound = metadata.tls_client_certificate_bound_access_tokens === true;
  const dpopBound = metadata.dpop_bound_access_tokens === true;
  const grantTypes = metadata.grant_types ?? [];

  if (method === 'none') {
    if (!certBound && !dpopBound) {
      refuse('a public client (token_endpoint_auth_method "none") must set dpop_bound_access_tokens or tls_client_certificate_bound_access_tokens');
    }
    if (grantTypes.includes('client_credentials')) refuse('a public client cannot use the client_credentials grant');
  }

  if (fapiProfileOf(metadata, serverProfile) === '2.0') {
    if (method === 'none') refuse('FAPI 2.0 allows only confidential clients (tls_client_auth, self_signed_tls_client_auth, private_key_jwt)');
    metadata.require_pushed_authorization_requests = true;
    if (!certBound && !dpopBound) {
      if (CERTIFICATE_AUTH_METHODS.has(method)) metadata.tls_client_certificate_bound_access_tokens = true;
      else metadata.dpop_bound_access_tokens = true;
    }
  }
}

/** certbound's client metadata beyond RFC 7591 / RFC 8705, and its validation (oidc-provider's extraClientMetadata). */
export function extraClientMetadata(serverProfile: FapiProfile | undefined): NonNullable<Configuration['extraClientMetadata']> {
  return {
    // default_resource: the audience a client gets when it names none (RFC 8707 §2).
    // introspection_allowed: a resource server's client may introspect others' tokens.
    // resources: resource identifier -> the scopes of it the client holds (oidc/resource-indicators.ts).
    // fapi_profile: "2.0" puts one client under the FAPI 2.0 Security Profile (oidc/fapi.ts).
    // certificate_pinning: a tls_client_auth client accepts only its certificates registered
    // through /admin/v1; certificate_thumbprints: those, attached by oidc/pinned-certificates.ts.
    properties: ['default_resource', 'introspection_allowed', 'resources', 'fapi_profile', 'certificate_pinning', 'certificate_thumbprints'],
    validator(_ctx, key, value, metadata) {
      if (key === 'certificate_pinning' && value !== undefined && typeof value !== 'boolean') {
        throw new Error('certificate_pinning must be a boolean');
      }
      if (key === 'certificate_thumbprints' && value !== undefined && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
        throw new Error('certificate_thumbprints must be an array of strings');
      }
      // Called once per property; the whole-client rules run once, with fapi_profile's turn.
      if (key === 'fapi_profile') applyClientPolicy(metadata, serverProfile);
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
  };
}
