// postgres/resource-servers.ts, the queries of the resource_servers table: column defaults,
// upsert, find and list, the schema's token formats, and the version every update counts
// (create-only insert, compare-and-set). PGlite always, PostgreSQL when TEST_DATABASE_URL is set.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  findResourceServer,
  insertResourceServer,
  listResourceServers,
  updateResourceServerIfVersion,
  upsertResourceServer,
} from '../../../src/storage/postgres/resource-servers.ts';
import { onEachEngine } from '../helpers.ts';

onEachEngine('resource servers', (sql) => {
  it('upsertResourceServer applies the column defaults: jwt, sender-constrained, server TTL', async () => {
    const identifier = `https://api-${randomUUID()}.example`;
    const rs = await upsertResourceServer(sql(), { identifier, scopes: ['payments:read', 'payments:write'] });
    assert.equal(rs.token_format, 'jwt');
    assert.equal(rs.sender_constraint_required, true);
    assert.equal(rs.access_token_ttl, null);
    assert.equal(rs.name, null);
    assert.deepEqual(rs.scopes, ['payments:read', 'payments:write']);
  });

  it('a second upsert replaces every field; find and list read it back', async () => {
    const identifier = `https://api-${randomUUID()}.example`;
    await upsertResourceServer(sql(), { identifier, scopes: ['a'] });
    await upsertResourceServer(sql(), {
      identifier,
      name: 'Settlements',
      scopes: [],
      token_format: 'opaque',
      access_token_ttl: 300,
      sender_constraint_required: false,
    });
    const found = await findResourceServer(sql(), identifier);
    assert.deepEqual(
      { ...found, created_at: undefined, updated_at: undefined },
      {
        identifier,
        name: 'Settlements',
        scopes: [],
        token_format: 'opaque',
        access_token_ttl: 300,
        sender_constraint_required: false,
        version: 2,
        created_at: undefined,
        updated_at: undefined,
      },
    );
    assert.ok((await listResourceServers(sql())).some((r) => r.identifier === identifier));
    assert.equal(await findResourceServer(sql(), 'https://unknown.example'), undefined);
  });

  it('the schema refuses an unknown token format', async () => {
    await assert.rejects(
      upsertResourceServer(sql(), { identifier: `https://api-${randomUUID()}.example`, scopes: [], token_format: 'paseto' as 'jwt' }),
      /check constraint/,
    );
  });

  it('a resource server\'s version counts every update, whoever makes it', async () => {
    const rs = await insertResourceServer(sql(), { identifier: 'https://v.test', name: null, scopes: [], token_format: 'jwt', access_token_ttl: null, sender_constraint_required: true });
    assert.equal(rs!.version, 1);
    assert.equal(await insertResourceServer(sql(), { ...rs!, scopes: ['x'] }), undefined, 'create-only');
    await sql().query(`update resource_servers set name = 'n' where identifier = 'https://v.test'`);
    assert.equal((await findResourceServer(sql(), 'https://v.test'))!.version, 2);
    assert.equal(await updateResourceServerIfVersion(sql(), { ...rs!, version: 1 }), undefined, 'stale version');
    assert.equal((await updateResourceServerIfVersion(sql(), { ...rs!, version: 2 }))!.version, 3);
  });
});
