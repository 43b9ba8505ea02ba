// oidc-provider adapter for durable models (Grant, RefreshToken) in PostgreSQL. It only
// delegates to oidc-models.ts.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { SqlClient } from '../sql.ts';
import type { GrantRevoker } from '../model-routing.ts';
import {
  consumeModel,
  destroyModel,
  findModel,
  findModelByUid,
  findModelByUserCode,
  revokeGrantInSql,
  upsertModel,
} from './oidc-models.ts';

export class PostgresOidcAdapter implements Adapter {
  readonly model: string;
  readonly #sql: SqlClient;
  readonly #revokeGrant: GrantRevoker;

  /** `revokeGrant` defaults to this store only; the factory passes one that covers every store. */
  constructor(model: string, sql: SqlClient, revokeGrant?: GrantRevoker) {
    this.model = model;
    this.#sql = sql;
    this.#revokeGrant = revokeGrant ?? ((grantId) => revokeGrantInSql(sql, grantId));
  }

  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    return upsertModel(this.#sql, this.model, id, payload, expiresIn);
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return findModel(this.#sql, this.model, id);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return findModelByUid(this.#sql, this.model, uid);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return findModelByUserCode(this.#sql, this.model, userCode);
  }

  consume(id: string): Promise<void> {
    return consumeModel(this.#sql, this.model, id);
  }

  destroy(id: string): Promise<void> {
    return destroyModel(this.#sql, this.model, id);
  }

  revokeByGrantId(grantId: string): Promise<void> {
    return this.#revokeGrant(grantId);
  }
}
