// The account extension point's built-in source: scrypt password hashes, the local accounts
// table (embedded PGlite, and PostgreSQL when TEST_DATABASE_URL is set), and the dev user.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlClient } from '../../src/storage/sql.ts';
import { openPglite } from '../../src/storage/embedded/pglite.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { hashPassword, verifyPassword, MAX_PASSWORD_LENGTH } from '../../src/accounts/passwords.ts';
import { AccountInputError, createLocalAccount, createLocalAccountSource } from '../../src/accounts/local-accounts.ts';
import { oidcFindAccount } from '../../src/accounts/account-source.ts';
import { ensureDevUser, DEV_USERNAME } from '../../src/dev/account.ts';
import { SKIP_POSTGRES, openTestPostgres } from '../storage/helpers.ts';

describe('scrypt password hashes', () => {
  it('stores parameters and salt with the hash, and never the password', async () => {
    const hash = await hashPassword('correct horse battery staple');
    assert.match(hash, /^scrypt\$131072\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.doesNotMatch(hash, /correct/);
    assert.notEqual(await hashPassword('correct horse battery staple'), hash, 'a fresh salt every time');
  });

  it('verifies the right password and refuses a wrong one, an empty one and an oversized one', async () => {
    const hash = await hashPassword('correct horse battery staple');
    assert.equal(await verifyPassword('correct horse battery staple', hash), true);
    assert.equal(await verifyPassword('correct horse battery stapl', hash), false);
    assert.equal(await verifyPassword('', hash), false);
    assert.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_LENGTH + 1), hash), false);
  });

  it('refuses a malformed stored hash without throwing, and an unknown user after spending one scrypt', async () => {
    assert.equal(await verifyPassword('anything', 'md5$abc'), false);
    assert.equal(await verifyPassword('anything', 'scrypt$99999999$8$1$AA$AA'), false);
    assert.equal(await verifyPassword('anything', undefined), false);
  });
});

function accountSuite(engine: string, skip: string | false, open: () => Promise<{ sql: SqlClient; close: () => Promise<void> }>) {
  describe(`local accounts: ${engine}`, { skip }, () => {
    let sql: SqlClient;
    let close: () => Promise<void>;
    let dataDir: string;
    before(async () => {
      ({ sql, close } = await open());
      await migrate(sql);
      dataDir = await mkdtemp(join(tmpdir(), 'certbound-accounts-'));
    });
    after(async () => {
      await close?.();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('authenticates by username, case-insensitively, and finds the account with its claims', async () => {
      const accounts = createLocalAccountSource(sql);
      const id = await createLocalAccount(sql, { username: 'Bob.Builder', password: 'can we fix it', claims: { name: 'Bob' } });
      assert.equal(await accounts.authenticate('bob.builder', 'can we fix it'), id);
      assert.equal(await accounts.authenticate('BOB.BUILDER', 'can we fix it'), id);
      assert.equal(await accounts.authenticate('bob.builder', 'yes we can'), undefined);
      assert.equal(await accounts.authenticate('nobody', 'can we fix it'), undefined);
      assert.equal(await accounts.authenticate("bob' or '1'='1", 'x'), undefined);
      assert.deepEqual(await accounts.findAccount(id), { accountId: id, claims: { preferred_username: 'Bob.Builder', name: 'Bob' }, roles: [] });
      assert.equal(await accounts.findAccount('no-such-id'), undefined);
    });

    it('keeps an account\'s roles: admin for a console person, refuses an unknown role', async () => {
      const accounts = createLocalAccountSource(sql);
      const id = await createLocalAccount(sql, { username: 'ops.lead', password: 'correct horse', roles: ['admin'] });
      assert.deepEqual((await accounts.findAccount(id))?.roles, ['admin']);
      await assert.rejects(createLocalAccount(sql, { username: 'root.person', password: 'correct horse', roles: ['root'] }), /role "root" is not one of: admin/);
      assert.equal(await accounts.authenticate('root.person', 'correct horse'), undefined, 'nothing was written for the refused account');
    });

    it('neither signs in nor finds a disabled account', async () => {
      const accounts = createLocalAccountSource(sql);
      const id = await createLocalAccount(sql, { username: 'carol', password: 'carol password' });
      await sql.query('update accounts set disabled = true where account_id = $1', [id]);
      assert.equal(await accounts.authenticate('carol', 'carol password'), undefined);
      assert.equal(await accounts.findAccount(id), undefined);
    });

    it('refuses a taken username (any case), a bad username and a short password', async () => {
      await createLocalAccount(sql, { username: 'dave', password: 'dave password' });
      await assert.rejects(createLocalAccount(sql, { username: 'DAVE', password: 'other password' }), AccountInputError);
      await assert.rejects(createLocalAccount(sql, { username: 'da ve', password: 'dave password' }), AccountInputError);
      await assert.rejects(createLocalAccount(sql, { username: 'eve', password: 'short' }), /8 to/);
    });

    it('gives oidc-provider an account whose claims carry sub', async () => {
      const id = await createLocalAccount(sql, { username: 'frank', password: 'frank password', claims: { email: 'f@example.com', sub: 'spoofed' } });
      const account = await oidcFindAccount(createLocalAccountSource(sql))(undefined, id);
      assert.equal(account?.accountId, id);
      assert.deepEqual(await account?.claims(), { email: 'f@example.com', preferred_username: 'frank', sub: id });
    });

    it('seeds the dev user once, with its password in DATA_DIR/dev-user.json (0600)', async () => {
      const first = await ensureDevUser(sql, dataDir);
      assert.equal(first.username, DEV_USERNAME);
      assert.equal(first.created, true);
      assert.equal((await stat(first.file)).mode & 0o077, 0);
      assert.deepEqual(JSON.parse(await readFile(first.file, 'utf8')), { username: DEV_USERNAME, password: first.password });
      assert.ok(await createLocalAccountSource(sql).authenticate(DEV_USERNAME, first.password));
      const second = await ensureDevUser(sql, dataDir);
      assert.equal(second.created, false);
      assert.equal(second.password, first.password);
    });
  });
}

accountSuite('embedded PGlite', false, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-accounts-db-'));
  const sql = await openPglite(join(dir, 'pglite'));
  return { sql, close: async () => { await sql.close(); await rm(dir, { recursive: true, force: true }); } };
});

accountSuite('PostgreSQL', SKIP_POSTGRES, async () => {
  const db = await openTestPostgres();
  return { sql: db.sql, close: db.drop };
});
