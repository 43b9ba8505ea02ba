// The key-value commands behind oidc-adapter.ts, for any KvStore (Redis or embedded).
//
//   ${model}:${id}                 JSON payload, TTL = expiresIn
//   ${model}:uid:${uid}            id        (Session lookup by uid), same TTL
//   ${model}:userCode:${userCode}  id        (DeviceCode lookup), same TTL
//   grant:${grantId}               set of ${model}:${id} keys, TTL = the longest member's
//
// Secondary keys are written with the entry's TTL, so they expire with it. A lookup through one
// re-checks the payload, so a stale index can never return the wrong entry.
import type { AdapterPayload } from 'oidc-provider';
import type { KvStore } from './kv.ts';
import { GRANT_BOUND_MODELS, epochSeconds } from '../model-routing.ts';

/** For the rare write without expiresIn (a TTL function returning nothing): still bounded. */
export const KV_FALLBACK_TTL_SECONDS = 14 * 24 * 60 * 60;

const grantBound = new Set(GRANT_BOUND_MODELS);

export const kvKeys = {
  entry: (model: string, id: string) => `${model}:${id}`,
  uid: (model: string, uid: string) => `${model}:uid:${uid}`,
  userCode: (model: string, userCode: string) => `${model}:userCode:${userCode}`,
  grant: (grantId: string) => `grant:${grantId}`,
};

function ttlSeconds(payload: AdapterPayload, expiresIn: number | undefined): number {
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn)) return Math.max(1, expiresIn);
  if (typeof payload.exp === 'number') return Math.max(1, payload.exp - epochSeconds());
  return KV_FALLBACK_TTL_SECONDS;
}

export async function kvUpsert(
  kv: KvStore,
  model: string,
  id: string,
  payload: AdapterPayload,
  expiresIn: number | undefined,
): Promise<void> {
  const ttl = ttlSeconds(payload, expiresIn);
  const key = kvKeys.entry(model, id);
  const writes = [kv.set(key, JSON.stringify(payload), ttl)];
  if (typeof payload.uid === 'string') writes.push(kv.set(kvKeys.uid(model, payload.uid), id, ttl));
  if (typeof payload.userCode === 'string') writes.push(kv.set(kvKeys.userCode(model, payload.userCode), id, ttl));
  if (grantBound.has(model) && typeof payload.grantId === 'string') {
    writes.push(kv.sadd(kvKeys.grant(payload.grantId), key, ttl));
  }
  await Promise.all(writes);
}

export async function kvFind(kv: KvStore, model: string, id: string): Promise<AdapterPayload | undefined> {
  const raw = await kv.get(kvKeys.entry(model, id));
  return raw === undefined ? undefined : (JSON.parse(raw) as AdapterPayload);
}

export async function kvFindByUid(kv: KvStore, model: string, uid: string): Promise<AdapterPayload | undefined> {
  const id = await kv.get(kvKeys.uid(model, uid));
  if (id === undefined) return undefined;
  const payload = await kvFind(kv, model, id);
  return payload?.uid === uid ? payload : undefined;
}

export async function kvFindByUserCode(kv: KvStore, model: string, userCode: string): Promise<AdapterPayload | undefined> {
  const id = await kv.get(kvKeys.userCode(model, userCode));
  if (id === undefined) return undefined;
  const payload = await kvFind(kv, model, id);
  return payload?.userCode === userCode ? payload : undefined;
}

/** Marks the entry consumed, keeping its expiry; a missing or expired entry stays missing. */
export async function kvConsume(kv: KvStore, model: string, id: string): Promise<void> {
  const payload = await kvFind(kv, model, id);
  if (payload === undefined) return;
  payload.consumed = epochSeconds();
  await kv.setKeepTtl(kvKeys.entry(model, id), JSON.stringify(payload));
}

export async function kvDestroy(kv: KvStore, model: string, id: string): Promise<void> {
  const payload = await kvFind(kv, model, id);
  await kv.del(kvKeys.entry(model, id));
  if (payload !== undefined) await removeSecondaryKeys(kv, model, id, payload);
}

/** Deletes every grant-bound entry of `grantId` in this store, and the grant's set. */
export async function kvRevokeGrant(kv: KvStore, grantId: string): Promise<void> {
  const grantKey = kvKeys.grant(grantId);
  const members = await kv.smembers(grantKey);
  await Promise.all(
    members.map(async (key) => {
      const colon = key.indexOf(':');
      const model = key.slice(0, colon);
      const id = key.slice(colon + 1);
      const payload = await kvFind(kv, model, id);
      // Re-checked: the set is an index, the payload is the truth.
      if (payload?.grantId !== grantId) return;
      await kv.del(key);
      await removeSecondaryKeys(kv, model, id, payload);
    }),
  );
  await kv.del(grantKey);
}

async function removeSecondaryKeys(kv: KvStore, model: string, id: string, payload: AdapterPayload): Promise<void> {
  const candidates: string[] = [];
  if (typeof payload.uid === 'string') candidates.push(kvKeys.uid(model, payload.uid));
  if (typeof payload.userCode === 'string') candidates.push(kvKeys.userCode(model, payload.userCode));
  // Only while the index still points at this entry: a newer entry may own it now.
  await Promise.all(
    candidates.map(async (key) => {
      if ((await kv.get(key)) === id) await kv.del(key);
    }),
  );
}
