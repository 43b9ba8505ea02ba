// FAPI 2.0 Security Profile, per client (`fapi_profile: "2.0"` metadata) or for every client
// (FAPI_PROFILE=2.0). oidc-provider's features.fapi applies what only the engine can (PKCE
// required, client-assertion `aud` = issuer, redirect_uri required); client-metadata.ts makes the
// metadata conform (confidential, PAR, sender-constrained); the rest is here.
import type { KoaContextWithOIDC } from 'oidc-provider';

export type FapiProfile = '2.0';

/** FAPI 2.0 SP §5.3.2.1: authorization codes live at most 60 s; certbound keeps FAPI codes to 30 s. */
export const FAPI_AUTHORIZATION_CODE_TTL = 30;
/** RFC 6749 §4.1.2 recommends at most 10 minutes; a code is exchanged at once by a working client. */
export const AUTHORIZATION_CODE_TTL = 60;

interface ClientLike {
  [property: string]: unknown;
}

/** The profile that applies to `client` (undefined: none). */
export function fapiProfileOf(client: ClientLike | undefined, serverProfile: FapiProfile | undefined): FapiProfile | undefined {
  if (serverProfile) return serverProfile;
  return client?.['fapi_profile'] === '2.0' ? '2.0' : undefined;
}

export function fapiFeature(serverProfile: FapiProfile | undefined) {
  return {
    // Enabled always, so a single client can opt in; the profile function decides per request.
    enabled: true,
    profile: (_ctx: KoaContextWithOIDC, client: ClientLike | undefined) => fapiProfileOf(client, serverProfile),
  };
}

export function isFapi(ctx: KoaContextWithOIDC | undefined): boolean {
  return ctx?.oidc?.isFapi('2.0') === '2.0';
}

export function authorizationCodeTtl(ctx: KoaContextWithOIDC | undefined): number {
  return isFapi(ctx) ? FAPI_AUTHORIZATION_CODE_TTL : AUTHORIZATION_CODE_TTL;
}
