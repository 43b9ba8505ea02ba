// Which oidc-provider models live where, and the facts both adapters share.

/** Durable: survive restarts, queried by admins. Everything else is short-lived (KvStore). */
export const DURABLE_MODELS: ReadonlySet<string> = new Set(['Grant', 'RefreshToken']);

/**
 * Models that carry a grantId and are removed by revokeByGrantId (as oidc-provider's own memory
 * adapter does). Grant, Session and Interaction are not: oidc-provider destroys a Grant itself,
 * and an Interaction's grantId is only a reference.
 */
export const GRANT_BOUND_MODELS: readonly string[] = [
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
];

/** Removes every grant-bound token of `grantId` from every store. */
export type GrantRevoker = (grantId: string) => Promise<void>;

export function epochSeconds(ms: number = Date.now()): number {
  return Math.floor(ms / 1000);
}
