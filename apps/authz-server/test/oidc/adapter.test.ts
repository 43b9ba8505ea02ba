// oidc/adapter.ts: the adapter oidc-provider reads through is storage's own, with certbound's
// checks on the Client and RefreshToken reads and the references of JWT access tokens; every
// other call reaches storage's adapter unchanged, #private fields and all.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { certboundAdapter } from '../../src/oidc/adapter.ts';
import { createStructuredTokens } from '../../src/oidc/structured-tokens.ts';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { createRevocationList } from '../../src/storage/kv/revocation-list.ts';
import { createLogger } from '../../src/log.ts';

/** Storage's adapters keep their state in #private fields, which only the instance itself can read. */
class PrivateAdapter implements Adapter {
  readonly #rows = new Map<string, AdapterPayload>();
  async upsert(id: string, payload: AdapterPayload) { this.#rows.set(id, payload); }
  async find(id: string) { return this.#rows.get(id); }
  async findByUserCode() { return undefined; }
  async findByUid() { return undefined; }
  async consume(id: string) { const row = this.#rows.get(id); if (row) row.consumed = 1; }
  async destroy(id: string) { this.#rows.delete(id); }
  async revokeByGrantId(grantId: string) { for (const [id, row] of this.#rows) if (row.grantId === grantId) this.#rows.delete(id); }
}

describe('certboundAdapter', () => {
  const structured = createStructuredTokens({
    issuer: 'https://op.test', publicJwks: { keys: [] }, algorithms: ['ES256'],
    revocations: createRevocationList(createMemoryKv()), logger: createLogger('silent'),
  });
  const adapters = new Map<string, PrivateAdapter>();
  const factory = certboundAdapter((model) => {
    let adapter = adapters.get(model);
    if (!adapter) adapters.set(model, adapter = new PrivateAdapter());
    return adapter;
  }, { staticScopes: new Set(['openid']), mtlsTokenEndpoint: 'https://mtls.op.test/token', structured });

  for (const model of ['RefreshToken', 'AccessToken', 'ClientCredentials', 'Client', 'Grant']) {
    it(`${model}: every call reaches storage's adapter (upsert, find, consume, revokeByGrantId, destroy)`, async () => {
      const adapter = factory(model);
      await adapter.upsert('a', { jti: 'a', grantId: 'g', client_id: 'a' }, 60);
      assert.equal((await adapter.find('a'))?.jti, 'a');
      await adapter.consume('a');
      assert.equal((await adapter.find('a'))?.consumed, 1);
      await adapter.revokeByGrantId('g');
      assert.equal(await adapter.find('a'), undefined);
      await adapter.upsert('b', { jti: 'b', client_id: 'b' }, 60);
      await adapter.destroy('b');
      assert.equal(await adapter.find('b'), undefined);
    });
  }

  it('a reference outside a request is found nowhere, and never looked up in storage', async () => {
    await adapters.get('AccessToken')!.upsert('jwt~x', { jti: 'jwt~x' });
    assert.equal(await factory('AccessToken').find('jwt~x'), undefined);
    assert.equal(await factory('RefreshToken').find('jwt~x'), undefined);
  });
});
