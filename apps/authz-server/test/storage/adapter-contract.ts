// The oidc-provider adapter contract (example/my_adapter.js), one suite for every store. A stack
// hands out adapters and can move its clock: time is controlled, never waited for.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { KvStore } from '../../src/storage/kv/kv.ts';

export interface ContractStack {
  adapter(model: string): Adapter;
  /** Moves every entry `seconds` closer to its expiry. */
  advance(seconds: number): Promise<void>;
  /** The KvStore behind KV-backed models, to prove secondary keys themselves expire. */
  kv?: KvStore;
  /** KV keys written without an expiry (stores that can list them). */
  keysWithoutTtl?(): Promise<string[]>;
  close: () => Promise<void>;
}

const GRANT_MODELS = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode'] as const;

function token(model: string, grantId: string, extra: Partial<AdapterPayload> = {}): { id: string; payload: AdapterPayload } {
  const id = randomUUID();
  return { id, payload: { jti: id, kind: model, grantId, clientId: 'client-a', ...extra } };
}

function epochNow(): number {
  return Math.floor(Date.now() / 1000);
}

export function adapterContract(name: string, skip: string | false, open: () => Promise<ContractStack>): void {
  describe(`oidc-provider adapter contract: ${name}`, { skip }, () => {
    let stack: ContractStack;
    before(async () => {
      stack = await open();
    });
    after(async () => {
      await stack?.close();
    });

    describe('upsert and find', () => {
      for (const model of ['AccessToken', 'RefreshToken', 'Grant', 'Session', 'Interaction', 'ClientCredentials']) {
        it(`returns the stored ${model} payload`, async () => {
          const { id, payload } = token(model, randomUUID(), { scope: 'payments:read', extra: { n: [1, 'two'] } });
          await stack.adapter(model).upsert(id, payload, 300);
          assert.deepEqual(await stack.adapter(model).find(id), payload);
        });
      }

      it('returns undefined for an unknown id', async () => {
        assert.equal(await stack.adapter('AccessToken').find(randomUUID()), undefined);
        assert.equal(await stack.adapter('Grant').find(randomUUID()), undefined);
      });

      it('keeps models apart: the same id under another model is not found', async () => {
        const { id, payload } = token('AccessToken', randomUUID());
        await stack.adapter('AccessToken').upsert(id, payload, 300);
        assert.equal(await stack.adapter('AuthorizationCode').find(id), undefined);
      });

      it('replaces the payload when the same id is upserted again', async () => {
        const adapter = stack.adapter('Grant');
        const { id, payload } = token('Grant', randomUUID());
        await adapter.upsert(id, payload, 300);
        await adapter.upsert(id, { ...payload, scope: 'changed' }, 300);
        assert.equal((await adapter.find(id))?.scope, 'changed');
      });
    });

    describe('expiry', () => {
      for (const model of ['AccessToken', 'RefreshToken', 'Session']) {
        it(`a ${model} is found until expiresIn has passed, then never again`, async () => {
          const adapter = stack.adapter(model);
          const { id, payload } = token(model, randomUUID());
          await adapter.upsert(id, payload, 60);
          await stack.advance(58);
          assert.ok(await adapter.find(id), 'found 2 s before expiry');
          await stack.advance(3);
          assert.equal(await adapter.find(id), undefined, 'gone 1 s after expiry');
        });
      }

      it('an upsert renews the expiry', async () => {
        const adapter = stack.adapter('Session');
        const { id, payload } = token('Session', randomUUID());
        await adapter.upsert(id, payload, 60);
        await stack.advance(50);
        await adapter.upsert(id, payload, 60);
        await stack.advance(50);
        assert.ok(await adapter.find(id));
      });

      it('every key is written with a TTL', async (t) => {
        if (!stack.keysWithoutTtl) {
          t.skip('this stack cannot list its keys: the embedded TTL store takes a TTL on every write by signature, PostgreSQL rows expire by expires_at');
          return;
        }
        const grantId = randomUUID();
        for (const model of GRANT_MODELS) {
          const { id, payload } = token(model, grantId, { userCode: `UC-${randomUUID()}` });
          await stack.adapter(model).upsert(id, payload, 60);
        }
        const session = token('Session', randomUUID(), { uid: randomUUID() });
        await stack.adapter('Session').upsert(session.id, session.payload, 60);
        assert.deepEqual(await stack.keysWithoutTtl(), []);
      });
    });

    describe('secondary indexes', () => {
      it('findByUid finds a Session by its uid; the index expires with the entry', async () => {
        const adapter = stack.adapter('Session');
        const uid = randomUUID();
        const { id, payload } = token('Session', randomUUID(), { uid });
        await adapter.upsert(id, payload, 60);
        assert.deepEqual(await adapter.findByUid(uid), payload);
        await stack.advance(61);
        assert.equal(await adapter.findByUid(uid), undefined);
        if (stack.kv) assert.equal(await stack.kv.get(`Session:uid:${uid}`), undefined, 'the uid key itself expired');
      });

      it('findByUid follows a Session re-saved under a new id (session id rotation)', async () => {
        const adapter = stack.adapter('Session');
        const uid = randomUUID();
        const first = token('Session', randomUUID(), { uid });
        const second = token('Session', randomUUID(), { uid });
        await adapter.upsert(first.id, first.payload, 300);
        await adapter.upsert(second.id, second.payload, 300);
        await adapter.destroy(first.id);
        assert.equal((await adapter.findByUid(uid))?.jti, second.id);
      });

      it('findByUid of an unknown uid is undefined', async () => {
        assert.equal(await stack.adapter('Session').findByUid(randomUUID()), undefined);
      });

      it('findByUserCode finds a DeviceCode by its user code; the index expires with the entry', async () => {
        const adapter = stack.adapter('DeviceCode');
        const userCode = `UC-${randomUUID()}`;
        const { id, payload } = token('DeviceCode', randomUUID(), { userCode });
        await adapter.upsert(id, payload, 60);
        assert.deepEqual(await adapter.findByUserCode(userCode), payload);
        await stack.advance(61);
        assert.equal(await adapter.findByUserCode(userCode), undefined);
        if (stack.kv) assert.equal(await stack.kv.get(`DeviceCode:userCode:${userCode}`), undefined);
      });
    });

    describe('consume', () => {
      for (const model of ['AuthorizationCode', 'RefreshToken', 'PushedAuthorizationRequest']) {
        it(`marks a ${model} consumed with epoch seconds and keeps the rest of it`, async () => {
          const adapter = stack.adapter(model);
          const { id, payload } = token(model, randomUUID());
          await adapter.upsert(id, payload, 60);
          assert.equal((await adapter.find(id))?.consumed, undefined);
          const before = epochNow();
          await adapter.consume(id);
          const found = await adapter.find(id);
          assert.ok(found);
          const { consumed, ...rest } = found as Omit<typeof found, 'consumed'> & { consumed?: unknown };
          assert.ok(typeof consumed === 'number', `consumed ${String(consumed)} is a number`);
          assert.ok(consumed >= before - 1 && consumed <= epochNow() + 1, `consumed ${consumed} is now`);
          assert.deepEqual(rest, payload);
        });

        it(`a consumed ${model} still expires on time`, async () => {
          const adapter = stack.adapter(model);
          const { id, payload } = token(model, randomUUID());
          await adapter.upsert(id, payload, 60);
          await stack.advance(30);
          await adapter.consume(id);
          await stack.advance(29);
          assert.ok((await adapter.find(id))?.consumed);
          await stack.advance(2);
          assert.equal(await adapter.find(id), undefined);
        });
      }

      it('consuming an unknown or expired id creates nothing', async () => {
        const adapter = stack.adapter('AuthorizationCode');
        const unknown = randomUUID();
        await adapter.consume(unknown);
        assert.equal(await adapter.find(unknown), undefined);
        const { id, payload } = token('AuthorizationCode', randomUUID());
        await adapter.upsert(id, payload, 10);
        await stack.advance(11);
        await adapter.consume(id);
        assert.equal(await adapter.find(id), undefined);
      });
    });

    describe('destroy', () => {
      it('removes the entry and its uid index', async () => {
        const adapter = stack.adapter('Session');
        const uid = randomUUID();
        const { id, payload } = token('Session', randomUUID(), { uid });
        await adapter.upsert(id, payload, 300);
        await adapter.destroy(id);
        assert.equal(await adapter.find(id), undefined);
        assert.equal(await adapter.findByUid(uid), undefined);
        if (stack.kv) assert.equal(await stack.kv.get(`Session:uid:${uid}`), undefined);
      });

      it('removes a durable entry', async () => {
        const adapter = stack.adapter('RefreshToken');
        const { id, payload } = token('RefreshToken', randomUUID());
        await adapter.upsert(id, payload, 300);
        await adapter.destroy(id);
        assert.equal(await adapter.find(id), undefined);
      });

      it('of an unknown id is a no-op', async () => {
        await stack.adapter('AccessToken').destroy(randomUUID());
        await stack.adapter('Grant').destroy(randomUUID());
      });
    });

    describe('revokeByGrantId', () => {
      async function issue(grantId: string) {
        const tokens: { model: string; id: string; userCode: string }[] = [];
        for (const model of GRANT_MODELS) {
          const userCode = `UC-${randomUUID()}`;
          const { id, payload } = token(model, grantId, { userCode });
          await stack.adapter(model).upsert(id, payload, 300);
          tokens.push({ model, id, userCode });
        }
        return tokens;
      }

      it("removes exactly that grant's tokens and leaves another grant's", async () => {
        const grantA = randomUUID();
        const grantB = randomUUID();
        const a = await issue(grantA);
        const b = await issue(grantB);
        // The grant itself and an interaction referring to it are not tokens of the grant.
        await stack.adapter('Grant').upsert(grantA, { jti: grantA, kind: 'Grant', accountId: 'acct' }, 300);
        const interaction = token('Interaction', grantA);
        await stack.adapter('Interaction').upsert(interaction.id, interaction.payload, 300);

        await stack.adapter('AccessToken').revokeByGrantId(grantA);

        for (const t of a) {
          assert.equal(await stack.adapter(t.model).find(t.id), undefined, `${t.model} of the revoked grant is gone`);
        }
        assert.equal(await stack.adapter('DeviceCode').findByUserCode(a[3].userCode), undefined);
        for (const t of b) {
          assert.equal((await stack.adapter(t.model).find(t.id))?.grantId, grantB, `${t.model} of the other grant stays`);
        }
        assert.ok(await stack.adapter('Grant').find(grantA), 'the Grant itself is destroyed by oidc-provider, not here');
        assert.ok(await stack.adapter('Interaction').find(interaction.id));
      });

      it('reaches every store whichever model it is called on', async () => {
        for (const via of GRANT_MODELS) {
          const grantId = randomUUID();
          const tokens = await issue(grantId);
          await stack.adapter(via).revokeByGrantId(grantId);
          for (const t of tokens) {
            assert.equal(await stack.adapter(t.model).find(t.id), undefined, `${t.model} revoked via ${via}`);
          }
        }
      });

      it('of an unknown grant is a no-op', async () => {
        await stack.adapter('RefreshToken').revokeByGrantId(randomUUID());
      });
    });
  });
}
