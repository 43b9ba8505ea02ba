// The extension point for where end-users live. The login page (interactions/) asks an
// AccountSource to check a username and password; oidc-provider asks it for an account by id
// whenever it mints a token or answers userinfo for that person (oidc/configuration.ts `findAccount`).
//
// certbound ships one source, the local accounts table (local-accounts.ts), which the dev
// bootstrap seeds with `alice`. A deployment whose people live elsewhere (a directory, an HR
// system, another identity provider behind a login form) implements this interface and passes it
// as `accounts` to startAuthzServer (main.ts). Nothing else in certbound knows where accounts live.

/** One end-user as the authorization server sees them. */
export interface Account {
  /** Stable, unique and never reassigned: it becomes the `sub` of every token for this person. */
  readonly accountId: string;
  /** OpenID Connect standard claims (`name`, `email`, ...); oidc-provider filters them by scope. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** What the person may do in certbound itself: `admin` signs in to the console (ACCOUNT_ROLES). */
  readonly roles?: readonly string[];
}

/** The roles an account can hold. `admin`: the console's admin resource (/admin/v1), as ADMIN_CLIENT_IDS is for clients. */
export const ACCOUNT_ROLES: readonly string[] = ['admin'];
export const ADMIN_ROLE = 'admin';

/** Does this account exist, is it enabled, and has it the admin role — asked anew each time (a role taken away counts at once). */
export async function hasAdminRole(source: AccountSource, accountId: string): Promise<boolean> {
  return (await source.findAccount(accountId))?.roles?.includes(ADMIN_ROLE) === true;
}

export interface AccountSource {
  /**
   * The account with this id, or undefined when it no longer exists or is disabled: a refresh
   * token or code for a vanished account then fails `invalid_grant`.
   */
  findAccount(accountId: string): Promise<Account | undefined>;
  /**
   * The account id these credentials belong to, or undefined. Implementations must take about
   * the same time whether or not the username exists, and must never log the password. `attempt`
   * says where the attempt came from; main.ts wraps every source in the login throttle
   * (throttled-account-source.ts), which may throw a LoginDeferredError (login-errors.ts) instead.
   */
  authenticate(username: string, password: string, attempt?: LoginAttempt): Promise<string | undefined>;
}

/** Where a sign-in attempt came from. */
export interface LoginAttempt {
  /** The client's IP address as the server saw it (the TCP peer). */
  readonly address: string;
}

/** oidc-provider's `findAccount` (configuration reference "findAccount") over an AccountSource. */
export function oidcFindAccount(source: AccountSource) {
  return async function findAccount(_ctx: unknown, sub: string) {
    const account = await source.findAccount(sub);
    if (!account) return undefined;
    return {
      accountId: account.accountId,
      async claims() {
        return { ...account.claims, sub: account.accountId };
      },
    };
  };
}
