// oidc-provider adapter for short-lived models (codes, sessions, interactions, PAR, replay
// detection, opaque access tokens, ...) on any KvStore. It only delegates to oidc-queries.ts.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { KvStore } from './kv.ts';
import type { GrantRevoker } from '../model-routing.ts';
import {
  kvConsume,
  kvDestroy,
  kvFind,
  kvFindByUid,
  kvFindByUserCode,
  kvRevokeGrant,
  kvUpsert,
} from './oidc-queries.ts';

export class KvOidcAdapter implements Adapter {
  readonly model: string;
  readonly #kv: KvStore;
  readonly #revokeGrant: GrantRevoker;

  /** `revokeGrant` defaults to this store only; the factory passes one that covers every store. */
  constructor(model: string, kv: KvStore, revokeGrant?: GrantRevoker) {
    this.model = model;
    this.#kv = kv;
    this.#revokeGrant = revokeGrant ?? ((grantId) => kvRevokeGrant(kv, grantId));
  }

  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    return kvUpsert(this.#kv, this.model, id, payload, expiresIn);
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return kvFind(this.#kv, this.model, id);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return kvFindByUid(this.#kv, this.model, uid);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return kvFindByUserCode(this.#kv, this.model, userCode);
  }

  consume(id: string): Promise<void> {
    return kvConsume(this.#kv, this.model, id);
  }

  destroy(id: string): Promise<void> {
    return kvDestroy(this.#kv, this.model, id);
  }

  revokeByGrantId(grantId: string): Promise<void> {
    return this.#revokeGrant(grantId);
  }
}
