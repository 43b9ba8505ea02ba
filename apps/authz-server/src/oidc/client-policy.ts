// Rules on client metadata that oidc-provider's schema does not know, applied whenever a client
// is loaded or registered (through extraClientMetadata.validator, which may adjust metadata):
// - a public client (token_endpoint_auth_method "none") must be sender-constrained, by
//   certificate (RFC 8705 §4) or DPoP (RFC 9449 §5), and cannot use client_credentials;
// - a FAPI 2.0 client (its own `fapi_profile` or FAPI_PROFILE) is confidential, must use PAR, and
//   always gets sender-constrained tokens: by its certificate when it authenticates with one,
//   otherwise by DPoP (FAPI 2.0 SP §5.3.2.1, §5.3.2.2).
import { errors } from 'oidc-provider';
import { fapiProfileOf, type FapiProfile } from './fapi.ts';
import { CERTIFICATE_AUTH_METHODS } from './vocabulary.ts';


function refuse(description: string): never {
  throw new errors.InvalidClientMetadata(description);
}

export function applyClientPolicy(metadata: Record<string, unknown>, serverProfile: FapiProfile | undefined): void {
  const declared = metadata['fapi_profile'];
  if (declared !== undefined && declared !== '2.0') refuse('fapi_profile must be "2.0" when present');

  const method = String(metadata.token_endpoint_auth_method ?? 'tls_client_auth');
  const certBound = metadata.tls_client_certificate_bound_access_tokens === true;
  const dpopBound = metadata.dpop_bound_access_tokens === true;
  const grantTypes = Array.isArray(metadata.grant_types) ? metadata.grant_types : [];

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
