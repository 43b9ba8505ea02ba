// certbound's words for the two client-authentication refusals oidc-provider decides before any
// callback of ours runs: a client_id certbound does not serve (unknown, or disabled through
// /admin/v1: the Client adapter finds neither), and credentials of another kind than the
// client's registered token_endpoint_auth_method. Client authentication reads the client right
// after reading the credentials (oidc-provider 9.13 lib/shared/client_auth.js), and refuses
// these two next; oidc/adapter.ts runs this check at that read, so certbound refuses first.
import type { AdapterPayload, KoaContextWithOIDC } from 'oidc-provider';
import { ClientAuthenticationRefused } from './errors.ts';

/** oidc-provider's routes where a client authenticates (RFC 6749 §2.3, RFC 7662 §2.1, RFC 7009 §2.1, RFC 9126 §2.1). */
export const CLIENT_AUTHENTICATION_ROUTES: ReadonlySet<string> = new Set(['token', 'introspection', 'revocation', 'pushed_authorization_request']);

/**
 * The methods the credentials of this request can be (RFC 6749 §2.3.1, RFC 7523 §2.2, RFC 8705
 * §2), in the order oidc-provider reads them; undefined for a client attestation, which
 * certbound does not offer and leaves to oidc-provider.
 */
function methodsPresented(ctx: KoaContextWithOIDC): readonly string[] | undefined {
  const params = ctx.oidc.params ?? {};
  if (params['client_secret'] || ctx.headers.authorization !== undefined) return ['client_secret_basic', 'client_secret_post'];
  if (ctx.headers['oauth-client-attestation'] !== undefined && params['client_assertion'] === undefined) return undefined;
  if (params['client_assertion'] !== undefined) return ['client_secret_jwt', 'private_key_jwt'];
  return ['none', 'tls_client_auth', 'self_signed_tls_client_auth'];
}

/**
 * Called with every Client read: when it is client authentication's own read (an authenticating
 * route, no client authenticated yet), refuses a client that was not found or whose registered
 * method the credentials cannot be.
 */
export function refuseClientAuthentication(ctx: KoaContextWithOIDC | undefined, clientId: string, metadata: AdapterPayload | undefined): void {
  if (!ctx?.oidc || !CLIENT_AUTHENTICATION_ROUTES.has(ctx.oidc.route) || ctx.oidc.client !== undefined) return;
  if (metadata === undefined) {
    throw new ClientAuthenticationRefused('client_unknown', `client "${clientId}" is not registered or is disabled`);
  }
  const registered = metadata.token_endpoint_auth_method ?? 'tls_client_auth';
  const presented = methodsPresented(ctx);
  if (presented !== undefined && !presented.includes(registered)) {
    throw new ClientAuthenticationRefused('client_auth_method', `the client authentication used does not match the registered token_endpoint_auth_method ${registered}`);
  }
}
