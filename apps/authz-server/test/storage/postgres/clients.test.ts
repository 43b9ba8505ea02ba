// The typed domain tables through postgres/clients.ts and postgres/resource-servers.ts, the
// Client adapter, and which store the adapter factory routes each oidc-provider model to.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { SqlClient } from '../../src/storage/sql.ts';
import { openPglite } from '../../src/storage/embedded/pglite.ts';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { findClient, setClientDisabled, upsertClient } from '../../src/storage/postgres/clients.ts';
import { findResourceServer, listResourceServers, upsertResourceServer } from '../../src/storage/postgres/resource-servers.ts';
import { ClientAdapter } from '../../src/storage/postgres/client-adapter.ts';
import { createAdapterFactory } from '../../src/storage/adapter-factory.ts';
import { SKIP_POSTGRES, openTestPostgres } from './helpers.ts';

function domainSuite(engine: string, skip: string | false, open: () => Promise<{ sql: SqlClient; close(): Promise<void> }>) {
  describe(`clients and resource servers: ${engine}`, { skip }, () => {
    let sql: SqlClient;
    let close: () => Promise<void>;
    before(async () => {
      ({ sql, close } = await open());
      await migrate(sql);
    });
    after(async () => {
      await close?.();
    });

    describe('clients', () => {
      it('upsertClient creates at version 1; a second upsert replaces the metadata and bumps the version', async () => {
        const clientId = `client-${randomUUID()}`;
        const created = await upsertClient(sql, { client_id: clientId, grant_types: ['client_credentials'] });
        assert.equal(created.version, 1);
        assert.equal(created.disabled, false);
        assert.ok(created.created_at instanceof Date);
        const updated = await upsertClient(sql, { client_id: clientId, grant_types: ['client_credentials'], scope: 'a b' });
        assert.equal(updated.version, 2);
        assert.deepEqual(updated.metadata, { client_id: clientId, grant_types: ['client_credentials'], scope: 'a b' });
        assert.deepEqual((await findClient(sql, clientId))?.metadata, updated.metadata);
      });

      it('upsertClient keeps disabled as it was unless told', async () => {
        const clientId = `client-${randomUUID()}`;
        await upsertClient(sql, { client_id: clientId }, { disabled: true });
        assert.equal((await upsertClient(sql, { client_id: clientId, scope: 'x' })).disabled, true);
        assert.equal((await upsertClient(sql, { client_id: clientId }, { disabled: false })).disabled, false);
      });

      it('upsertClient refuses metadata without a client_id', async () => {
        await assert.rejects(upsertClient(sql, { client_id: '' }), /non-empty client_id/);
      });

      it('findClient of an unknown id is undefined; setClientDisabled reports whether it existed', async () => {
        assert.equal(await findClient(sql, `nobody-${randomUUID()}`), undefined);
        assert.equal(await setClientDisabled(sql, `nobody-${randomUUID()}`, true), false);
      });

      it('deleting a client deletes its certificates', async () => {
        const clientId = `client-${randomUUID()}`;
        await upsertClient(sql, { client_id: clientId });
        await sql.query(
          `insert into client_certificates (client_id, x5t_s256, pem, sans, not_after) values ($1, 'thumb', 'PEM', '["dns:a"]', now())`,
          [clientId],
        );
        await sql.query('delete from clients where client_id = $1', [clientId]);
        const { rows } = await sql.query('select 1 from client_certificates where client_id = $1', [clientId]);
        assert.equal(rows.length, 0);
      });
    });

    describe('the Client adapter', () => {
      it('find returns the metadata with client_id', async () => {
        const clientId = `client-${randomUUID()}`;
        await upsertClient(sql, { client_id: clientId, token_endpoint_auth_method: 'self_signed_tls_client_auth' });
        assert.deepEqual(await new ClientAdapter(sql).find(clientId), {
          client_id: clientId,
          token_endpoint_auth_method: 'self_signed_tls_client_auth',
        });
      });

      it('find is undefined for an unknown client and for a disabled one', async () => {
        const clientId = `client-${randomUUID()}`;
        await upsertClient(sql, { client_id: clientId });
        assert.equal(await setClientDisabled(sql, clientId, true), true);
        assert.equal(await new ClientAdapter(sql).find(clientId), undefined);
        assert.equal(await new ClientAdapter(sql).find(`nobody-${randomUUID()}`), undefined);
      });

      it('refuses every other method: clients are written by the admin API', async () => {
        const adapter = new ClientAdapter(sql);
        await assert.rejects(adapter.upsert(), /Client adapter: upsert is not supported/);
        await assert.rejects(adapter.destroy(), /Client adapter: destroy is not supported/);
      });
    });

    describe('resource servers', () => {
      it('upsertResourceServer applies the column defaults: jwt, sender-constrained, server TTL', async () => {
        const identifier = `https://api-${randomUUID()}.example`;
        const rs = await upsertResourceServer(sql, { identifier, scopes: ['payments:read', 'payments:write'] });
        assert.equal(rs.token_format, 'jwt');
        assert.equal(rs.sender_constraint_required, true);
        assert.equal(rs.access_token_ttl, null);
        assert.equal(rs.name, null);
        assert.deepEqual(rs.scopes, ['payments:read', 'payments:write']);
      });

      it('a second upsert replaces every field; find and list read it back', async () => {
        const identifier = `https://api-${randomUUID()}.example`;
        await upsertResourceServer(sql, { identifier, scopes: ['a'] });
        await upsertResourceServer(sql, {
          identifier,
          name: 'Settlements',
          scopes: [],
          token_format: 'opaque',
          access_token_ttl: 300,
          sender_constraint_required: false,
        });
        const found = await findResourceServer(sql, identifier);
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
        assert.ok((await listResourceServers(sql)).some((r) => r.identifier === identifier));
        assert.equal(await findResourceServer(sql, 'https://unknown.example'), undefined);
      });

      it('the schema refuses an unknown token format', async () => {
        await assert.rejects(
          upsertResourceServer(sql, { identifier: `https://api-${randomUUID()}.example`, scopes: [], token_format: 'paseto' as 'jwt' }),
          /check constraint/,
        );
      });
    });

    describe('createAdapterFactory routing', () => {
      it('Grant and RefreshToken go to PostgreSQL, short-lived and unknown models to the KvStore, Client to clients', async () => {
        const kv = createMemoryKv();
        const factory = createAdapterFactory({ sql, kv });
        const inSql = async (model: string, id: string) =>
          (await sql.query('select 1 from oidc_models where model = $1 and id = $2', [model, id])).rows.length === 1;

        for (const model of ['Grant', 'RefreshToken']) {
          const id = randomUUID();
          await factory(model).upsert(id, { jti: id }, 60);
          assert.ok(await inSql(model, id), `${model} in PostgreSQL`);
          assert.equal(await kv.get(`${model}:${id}`), undefined);
        }
        const shortLived = [
          'AuthorizationCode', 'Session', 'Interaction', 'PushedAuthorizationRequest', 'ReplayDetection', 'AccessToken',
          'ClientCredentials', 'DeviceCode', 'BackchannelAuthenticationRequest', 'SomeFutureModel',
        ];
        for (const model of shortLived) {
          const id = randomUUID();
          await factory(model).upsert(id, { jti: id }, 60);
          assert.ok(await kv.get(`${model}:${id}`), `${model} in the KvStore`);
          assert.equal(await inSql(model, id), false);
        }
        assert.ok(factory('Client') instanceof ClientAdapter);
        assert.equal(factory('Session'), factory('Session'), 'one adapter per model');
        await kv.close();
      });
    });
  });
}

domainSuite('PGlite', false, async () => {
  const sql = await openPglite(undefined);
  return { sql, close: () => sql.close() };
});

domainSuite('PostgreSQL', SKIP_POSTGRES, async () => {
  const pg = await openTestPostgres();
  return { sql: pg.sql, close: () => pg.drop() };
});
