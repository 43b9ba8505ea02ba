// The built-in AccountSource: the `accounts` table (its SQL in storage/postgres/accounts.ts),
// passwords hashed with scrypt. Usernames match case-insensitively; a disabled account cannot
// sign in and is not found for tokens either. A successful sign-in whose hash was made at an
// older cost (N = 2^15 before issue 10) stores a new one at the current cost.
import { randomUUID } from 'node:crypto';
import type { SqlClient } from '../storage/sql.ts';
import { findAccountByUsername, findEnabledAccount, insertAccount, replacePasswordHash, type AccountRow } from '../storage/postgres/accounts.ts';
import { ACCOUNT_ROLES, type Account, type AccountSource } from './account-source.ts';
import { hashPassword, passwords as processHasher, HashingBusyError, MAX_PASSWORD_LENGTH, type PasswordHasher } from './passwords.ts';

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;

export class AccountInputError extends Error {}

export function isValidUsername(username: string): boolean {
  return USERNAME.test(username);
}

export async function findLocalAccountByUsername(sql: SqlClient, username: string): Promise<AccountRow | undefined> {
  if (!isValidUsername(username)) return undefined;
  return findAccountByUsername(sql, username);
}

/** Creates an account; its id is a random UUID unless given. Refuses a taken username. */
export async function createLocalAccount(sql: SqlClient, input: {
  username: string;
  password: string;
  claims?: Record<string, unknown>;
  accountId?: string;
  /** ACCOUNT_ROLES members, e.g. ['admin'] for a person who may use the console */
  roles?: readonly string[];
}): Promise<string> {
  if (!isValidUsername(input.username)) throw new AccountInputError(`username "${input.username.slice(0, 64)}" must be 1-64 letters, digits or ._@+-`);
  if (input.password.length < 8 || input.password.length > MAX_PASSWORD_LENGTH) {
    throw new AccountInputError(`password must be 8 to ${MAX_PASSWORD_LENGTH} characters`);
  }
  const unknownRole = input.roles?.find((role) => !ACCOUNT_ROLES.includes(role));
  if (unknownRole !== undefined) throw new AccountInputError(`role "${unknownRole.slice(0, 64)}" is not one of: ${ACCOUNT_ROLES.join(', ')}`);
  const accountId = input.accountId ?? randomUUID();
  const inserted = await insertAccount(sql, {
    accountId, username: input.username, passwordHash: await hashPassword(input.password), claims: input.claims ?? {}, roles: input.roles ?? [],
  });
  if (!inserted) throw new AccountInputError(`username "${input.username}" or account id is already taken`);
  return accountId;
}

export interface LocalAccountSourceOptions {
  /** Default: the process's hasher, whose queue every password check in the process shares. */
  passwords?: PasswordHasher;
}

export function createLocalAccountSource(sql: SqlClient, opts: LocalAccountSourceOptions = {}): AccountSource {
  const passwords = opts.passwords ?? processHasher;

  /** Stores a hash at the current cost, unless the password changed meanwhile; a busy queue skips it. */
  async function upgrade(row: AccountRow, password: string): Promise<void> {
    let hash: string;
    try {
      hash = await passwords.hash(password);
    } catch (err) {
      if (err instanceof HashingBusyError) return; // the next sign-in tries again
      throw err;
    }
    await replacePasswordHash(sql, row.account_id, row.password_hash, hash);
  }

  return {
    async findAccount(accountId: string): Promise<Account | undefined> {
      const row = await findEnabledAccount(sql, accountId);
      return row ? { accountId: row.account_id, claims: { preferred_username: row.username, ...row.claims }, roles: row.roles } : undefined;
    },
    async authenticate(username: string, password: string): Promise<string | undefined> {
      const row = await findLocalAccountByUsername(sql, username);
      // verify runs scrypt even without a row: an unknown user takes as long as a wrong password.
      const ok = await passwords.verify(password, row?.password_hash);
      if (!ok || !row || row.disabled) return undefined;
      if (passwords.needsRehash(row.password_hash)) await upgrade(row, password);
      return row.account_id;
    },
  };
}
