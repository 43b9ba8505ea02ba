// adapter-factory.ts: which store each oidc-provider model goes to (durable ones to PostgreSQL,
// Client to the clients table, every short-lived or unknown one to the KvStore), one adapter per
// model. PGlite always, PostgreSQL when TEST_DATABASE_URL is set; the embedded KvStore.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { ClientAdapter } from '../../src/storage/postgres/client-adapter.ts';
import { createAdapterFactory } from '../../src/storage/adapter-factory.ts';
import { onEachEngine } from './helpers.ts';

onEachEngine('createAdapterFactory routing', (sql) => {
  it('Grant and RefreshToken go to PostgreSQL, short-lived and unknown models to the KvStore, Client to clients', async () => {
    const kv = createMemoryKv();
    const factory = createAdapterFactory({ sql: sql(), kv });
    const inSql = async (model: string, id: string) =>
      (await sql().query('select 1 from oidc_models where model = $1 and id = $2', [model, id])).rows.length === 1;

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
