// db/migrations/0004_client_resources.sql: a database at 0003 with clients in the old form
// (a flat `scope` and a `default_resource`) is moved to `resources` without losing a grant.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlClient } from '../../src/storage/sql.ts';
import { DEFAULT_MIGRATIONS_DIR, migrate } from '../../src/storage/migrate.ts';
import { SKIP_POSTGRES, openTestPostgres, sharedPgliteSchemas } from './helpers.ts';

const A = 'https://a.test';
const B = 'https://b.test';
const BILLING = 'https://billing.test';
const ADMIN = 'urn:certbound:admin-api';

/** The resource servers of the old database (0003 let any two share a scope name). */
const RESOURCE_SERVERS: Record<string, string[]> = {
  [A]: ['read', 'write'],
  [B]: ['read', 'report'],
  [BILLING]: ['invoices:read', 'admin'],
  [ADMIN]: ['admin'],
  'https://empty.test': [],
};

/**
 * What the old server granted, read from the old form: a (resource, scope) pair for every scope
 * of `scope` that the resource defines, and the default_resource as an audience.
 */
function oldGrants(metadata: Record<string, unknown>): { scope: string | undefined; resources: Record<string, string[]> } {
  const scopes = typeof metadata.scope === 'string' ? metadata.scope.split(' ').filter(Boolean) : [];
  const resources: Record<string, string[]> = {};
  for (const [identifier, defined] of Object.entries(RESOURCE_SERVERS)) {
    const held = scopes.filter((s) => defined.includes(s));
    if (held.length) resources[identifier] = held;
  }
  const fallback = metadata.default_resource;
  if (typeof fallback === 'string') resources[fallback] ??= [];
  const statics = scopes.filter((s) => s === 'openid' || s === 'offline_access');
  return { scope: statics.length ? statics.join(' ') : undefined, resources };
}

const OLD_CLIENTS: Array<Record<string, unknown>> = [
  { client_id: 'admin', tls_client_auth_subject_dn: 'CN=admin', scope: 'admin', default_resource: ADMIN },
  { client_id: 'ledger', tls_client_auth_subject_dn: 'CN=ledger', scope: 'write read', default_resource: A },
  { client_id: 'partner-billing', tls_client_auth_subject_dn: 'CN=billing', scope: 'invoices:read admin', default_resource: BILLING },
  { client_id: 'code-flow', scope: 'openid read offline_access', default_resource: B, grant_types: ['authorization_code'] },
  { client_id: 'audience-only', default_resource: 'https://empty.test' },
  { client_id: 'no-default', scope: 'report' },
  { client_id: 'nothing' },
  { client_id: 'stale-scope', scope: 'gone read', default_resource: A },
];

function migrationSuite(engine: string, skip: string | false, fresh: () => Promise<{ sql: SqlClient; dispose: () => Promise<void> }>): void {
  describe(`migration 0004 (client resources): ${engine}`, { skip }, () => {
    const cleanup: Array<() => Promise<void>> = [];
    after(async () => {
      for (const fn of cleanup.reverse()) await fn();
    });

    async function at0003(): Promise<SqlClient> {
      const db = await fresh();
      cleanup.push(() => db.dispose());
      const dir = await mkdtemp(join(tmpdir(), 'certbound-0003-'));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      for (const file of (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((f) => /^000[123]_/.test(f))) {
        await copyFile(join(DEFAULT_MIGRATIONS_DIR, file), join(dir, file));
      }
      assert.deepEqual(await migrate(db.sql, dir), ['0001_init.sql', '0002_admin_api.sql', '0003_accounts.sql']);
      for (const [identifier, scopes] of Object.entries(RESOURCE_SERVERS)) {
        await db.sql.query('insert into resource_servers (identifier, scopes) values ($1, $2::text[])', [identifier, scopes]);
      }
      for (const metadata of OLD_CLIENTS) {
        await db.sql.query('insert into clients (client_id, metadata) values ($1, $2::jsonb)', [metadata.client_id, JSON.stringify(metadata)]);
      }
      return db.sql;
    }

    it('moves every client to resources holding exactly the grants it had', async () => {
      const sql = await at0003();
      assert.equal((await migrate(sql))[0], '0004_client_resources.sql', 'the upgrade applies 0004 next (then any later file)');
      const { rows } = await sql.query<{ client_id: string; metadata: Record<string, unknown>; version: number }>(
        'select client_id, metadata, version from clients order by client_id');
      assert.equal(rows.length, OLD_CLIENTS.length);
      for (const row of rows) {
        const old = OLD_CLIENTS.find((c) => c.client_id === row.client_id)!;
        const expected = oldGrants(old);
        assert.deepEqual(row.metadata.resources, expected.resources, `${row.client_id}: resources`);
        assert.equal(row.metadata.scope, expected.scope, `${row.client_id}: scope keeps only openid/offline_access`);
        assert.equal(row.metadata.default_resource, old.default_resource, `${row.client_id}: default_resource unchanged`);
        assert.equal(row.version, 2, `${row.client_id}: a new version (ETag)`);
        // Everything else is as it was.
        const { scope: _a, resources: _b, ...rest } = row.metadata;
        const { scope: _c, ...oldRest } = old;
        assert.deepEqual(rest, oldRest);
      }
    });

    it('spells out the cases: shared names on both, admin kept (refused at the token endpoint), unknown dropped', async () => {
      const sql = await at0003();
      await migrate(sql);
      const { rows } = await sql.query<{ client_id: string; metadata: Record<string, unknown> }>('select client_id, metadata from clients');
      const of = (id: string) => rows.find((r) => r.client_id === id)!.metadata;
      // Before, `admin` was good on every resource server defining it, the billing API's included.
      assert.deepEqual(of('admin').resources, { [ADMIN]: ['admin'], [BILLING]: ['admin'] });
      assert.deepEqual(of('ledger').resources, { [A]: ['write', 'read'], [B]: ['read'] });
      assert.deepEqual(of('partner-billing').resources, { [BILLING]: ['invoices:read', 'admin'], [ADMIN]: ['admin'] });
      assert.deepEqual(of('code-flow').resources, { [A]: ['read'], [B]: ['read'] });
      assert.equal(of('code-flow').scope, 'openid offline_access');
      assert.deepEqual(of('audience-only').resources, { 'https://empty.test': [] });
      assert.deepEqual(of('nothing').resources, {});
      assert.deepEqual(of('stale-scope').resources, { [A]: ['read'], [B]: ['read'] });
    });

    it('writes one audit row per client and is a no-op when run again', async () => {
      const sql = await at0003();
      await migrate(sql);
      const { rows } = await sql.query<{ target: string; actor_client_id: string; request_id: string; before: unknown; after: unknown }>(
        `select target, actor_client_id, request_id, before, after from audit_log where action = 'client.update' order by target`);
      assert.deepEqual(rows.map((r) => r.target), OLD_CLIENTS.map((c) => `clients/${String(c.client_id)}`).sort());
      const ledger = rows.find((r) => r.target === 'clients/ledger')!;
      assert.equal(ledger.actor_client_id, 'certbound');
      assert.equal(ledger.request_id, 'migration-0004');
      assert.deepEqual(ledger.before, { scope: 'write read', resources: null });
      assert.deepEqual(ledger.after, { scope: null, resources: { [A]: ['write', 'read'], [B]: ['read'] } });
      assert.deepEqual(await migrate(sql), []);
    });
  });
}

const pgliteSchema = sharedPgliteSchemas();
migrationSuite('PGlite', false, async () => ({ sql: await pgliteSchema(), dispose: async () => {} }));
migrationSuite('PostgreSQL', SKIP_POSTGRES, async () => {
  const pg = await openTestPostgres();
  return { sql: pg.sql, dispose: pg.drop };
});
