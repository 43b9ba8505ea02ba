// SQL for accounts (db/migrations/0003_accounts.sql): the end-users of the built-in
// AccountSource (accounts/local-accounts.ts, which holds the password logic). Usernames are
// matched case-insensitively, as the unique index on lower(username) does.
import type { SqlClient } from '../sql.ts';

export interface AccountRow {
  account_id: string;
  username: string;
  password_hash: string;
  claims: Record<string, unknown>;
  disabled: boolean;
  /** db/migrations/0007: 'admin' may manage certbound through the console */
  roles: string[];
}

export async function findAccountByUsername(sql: SqlClient, username: string): Promise<AccountRow | undefined> {
  const { rows } = await sql.query<AccountRow>(
    'select account_id, username, password_hash, claims, disabled, roles from accounts where lower(username) = lower($1)',
    [username],
  );
  return rows[0];
}

/** The account's id and claims; undefined when it does not exist or is disabled. */
export async function findEnabledAccount(sql: SqlClient, accountId: string): Promise<Pick<AccountRow, 'account_id' | 'username' | 'claims' | 'roles'> | undefined> {
  const { rows } = await sql.query<Pick<AccountRow, 'account_id' | 'username' | 'claims' | 'roles'>>(
    'select account_id, username, claims, roles from accounts where account_id = $1 and not disabled',
    [accountId],
  );
  return rows[0];
}

/** Inserts the account; false when its id or (case-insensitively) its username is taken. */
export async function insertAccount(
  sql: SqlClient,
  account: { accountId: string; username: string; passwordHash: string; claims: Record<string, unknown>; roles?: readonly string[] },
): Promise<boolean> {
  const { rowCount } = await sql.query(
    `insert into accounts (account_id, username, password_hash, claims, roles) values ($1, $2, $3, $4::jsonb, $5::text[])
     on conflict do nothing`,
    [account.accountId, account.username, account.passwordHash, JSON.stringify(account.claims), [...account.roles ?? []]],
  );
  return rowCount > 0;
}

/** Replaces the password hash only while it is still `previousHash` (a concurrent change wins). */
export async function replacePasswordHash(sql: SqlClient, accountId: string, previousHash: string, hash: string): Promise<void> {
  await sql.query('update accounts set password_hash = $1 where account_id = $2 and password_hash = $3', [hash, accountId, previousHash]);
}

/** Replaces the account's roles; false when no such account exists. */
export async function setAccountRoles(sql: SqlClient, accountId: string, roles: readonly string[]): Promise<boolean> {
  const { rowCount } = await sql.query('update accounts set roles = $2::text[], updated_at = now() where account_id = $1', [accountId, [...roles]]);
  return rowCount > 0;
}

/** Disables or enables the account (a disabled account cannot sign in, and its tokens stop working at /admin/v1). */
export async function setAccountDisabled(sql: SqlClient, accountId: string, disabled: boolean): Promise<boolean> {
  const { rowCount } = await sql.query('update accounts set disabled = $2, updated_at = now() where account_id = $1', [accountId, disabled]);
  return rowCount > 0;
}
