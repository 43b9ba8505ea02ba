// `certbound accounts`: an operator adds a person with the password on stdin, gives and takes
// the admin role, disables and enables them, against the embedded database (the stored rows are
// what the console's sign-in and /admin/v1 read); and the refusals a script sees by exit code.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import type { CliIo } from '../../src/cli/command.ts';
import { openStores } from '../../src/storage/index.ts';
import { findAccountByUsername } from '../../src/storage/postgres/accounts.ts';
import { createLocalAccountSource } from '../../src/accounts/local-accounts.ts';

async function run(argv: string[], dataDir: string, stdin?: string) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { DATA_DIR: dataDir }, cwd: dataDir };
  if (stdin !== undefined) io.stdin = (async function* () { yield stdin; })();
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

async function stored(dataDir: string, username: string) {
  const stores = await openStores({ dataDir });
  try {
    const row = await findAccountByUsername(stores.sql, username);
    const signIn = row ? await createLocalAccountSource(stores.sql).authenticate(username, 'a-long-password-1') : undefined;
    return { row, signIn };
  } finally {
    await stores.close();
  }
}

describe('certbound accounts', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'certbound-accounts-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('adds a person with the admin role; the password comes from stdin and signs in', async () => {
    const result = await run(['accounts', 'add', 'bob', '--role', 'admin', '--name', 'Bob Example'], dataDir, 'a-long-password-1\n');
    assert.equal(result.code, 0, result.stderr);
    const answer = JSON.parse(result.stdout) as { account_id: string; roles: string[] };
    assert.deepEqual(answer.roles, ['admin']);
    const { row, signIn } = await stored(dataDir, 'bob');
    assert.deepEqual(row?.roles, ['admin']);
    assert.deepEqual(row?.claims, { name: 'Bob Example' });
    assert.equal(signIn, answer.account_id);
  });

  it('takes the role away and gives it back', async () => {
    assert.equal((await run(['accounts', 'roles', 'bob'], dataDir)).code, 0);
    assert.deepEqual((await stored(dataDir, 'bob')).row?.roles, []);
    assert.equal((await run(['accounts', 'roles', 'bob', '--role', 'admin'], dataDir)).code, 0);
    assert.deepEqual((await stored(dataDir, 'bob')).row?.roles, ['admin']);
  });

  it('disables (no sign-in) and enables', async () => {
    assert.equal((await run(['accounts', 'disable', 'bob'], dataDir)).code, 0);
    const disabled = await stored(dataDir, 'bob');
    assert.equal(disabled.row?.disabled, true);
    assert.equal(disabled.signIn, undefined);
    assert.equal((await run(['accounts', 'enable', 'bob'], dataDir)).code, 0);
    assert.equal((await stored(dataDir, 'bob')).row?.disabled, false);
  });

  it('refuses, by exit code: an unknown role (2), a short password (2), a taken username (4), an unknown person (3), no password (2)', async () => {
    const role = await run(['accounts', 'add', 'carol', '--role', 'root'], dataDir, 'a-long-password-1\n');
    assert.equal(role.code, 2);
    assert.match(role.stderr, /--role root: is not one of: admin/);
    const short = await run(['accounts', 'add', 'carol'], dataDir, 'short\n');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /password must be 8 to \d+ characters/);
    const taken = await run(['accounts', 'add', 'BOB'], dataDir, 'a-long-password-1\n');
    assert.equal(taken.code, 4);
    assert.match(taken.stderr, /username "BOB" or account id is already taken/);
    const unknown = await run(['accounts', 'roles', 'nobody', '--role', 'admin'], dataDir);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /no account "nobody"/);
    const empty = await run(['accounts', 'add', 'carol'], dataDir, '');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no password on stdin/);
    assert.equal((await stored(dataDir, 'carol')).row, undefined, 'nothing was written for carol');
  });
});
