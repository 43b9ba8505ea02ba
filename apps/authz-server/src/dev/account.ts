// The dev user for the login page and the admin console (she has the admin role), created with the
// dev PKI on a machine with no configuration: `alice`, with a random password kept in DATA_DIR/dev-user.json (mode 0600) and printed with the
// quick start. The file is written first and is the source of truth, so a fresh database next
// to an existing DATA_DIR gets the same password back.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { SqlClient } from '../storage/sql.ts';
import { readIfExists, writeFileOnce, KEY_MODE } from '../pki/files.ts';
import { createLocalAccount, findLocalAccountByUsername } from '../accounts/local-accounts.ts';
import { ADMIN_ROLE } from '../accounts/account-source.ts';
import { setAccountRoles } from '../storage/postgres/accounts.ts';

export const DEV_USERNAME = 'alice';

export interface DevUser {
  username: string;
  password: string;
  file: string;
  /** True when this call created the account. */
  created: boolean;
}

async function readDevUser(file: string): Promise<{ username: string; password: string } | undefined> {
  const raw = await readIfExists(file);
  if (raw === undefined) return undefined;
  const parsed = JSON.parse(raw) as { username?: unknown; password?: unknown };
  if (typeof parsed.username !== 'string' || typeof parsed.password !== 'string') {
    throw new Error(`${file} is not {"username": ..., "password": ...}; delete it to have a new one made`);
  }
  return { username: parsed.username, password: parsed.password };
}

export async function ensureDevUser(sql: SqlClient, dataDir: string): Promise<DevUser> {
  const file = join(dataDir, 'dev-user.json');
  let user = await readDevUser(file);
  if (!user) {
    const fresh = { username: DEV_USERNAME, password: randomBytes(12).toString('base64url') };
    await writeFileOnce(file, `${JSON.stringify(fresh, null, 2)}\n`, KEY_MODE);
    user = (await readDevUser(file))!; // another process may have won the race: use its file
  }
  let created = false;
  const existing = await findLocalAccountByUsername(sql, user.username);
  if (!existing) {
    await createLocalAccount(sql, {
      username: user.username,
      password: user.password,
      claims: { name: 'Alice Example', email: 'alice@example.com', email_verified: true },
      roles: [ADMIN_ROLE],
    });
    created = true;
  } else if (!existing.roles.includes(ADMIN_ROLE)) {
    // A DATA_DIR from before the console: the dev person becomes its admin.
    await setAccountRoles(sql, existing.account_id, [...existing.roles, ADMIN_ROLE]);
  }
  return { ...user, file, created };
}
