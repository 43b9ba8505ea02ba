// Routes each oidc-provider model to its store: durable ones to PostgreSQL, Client to the typed
// clients table, every short-lived one (and any model added by a future oidc-provider) to the
// KvStore. Grant revocation is wired across both stores, because a grant's refresh tokens live
// in PostgreSQL while its codes and opaque access tokens live in the KvStore.
import type { Adapter } from 'oidc-provider';
import type { SqlClient } from './sql.ts';
import type { KvStore } from './kv/kv.ts';
import { DURABLE_MODELS, type GrantRevoker } from './model-routing.ts';
import { PostgresOidcAdapter } from './postgres/oidc-adapter.ts';
import { revokeGrantInSql } from './postgres/oidc-models.ts';
import { KvOidcAdapter } from './kv/oidc-adapter.ts';
import { kvRevokeGrant } from './kv/oidc-queries.ts';
import { ClientAdapter, type ClientCompletion } from './postgres/client-adapter.ts';
import type { ClientCache } from './client-cache.ts';

export type AdapterFactory = (modelName: string) => Adapter;

export interface AdapterFactoryOptions {
  sql: SqlClient;
  kv: KvStore;
  clientCache?: ClientCache | undefined;
  /** What the oidc side adds to a stored client (oidc/pinned-certificates.ts); postgres/client-adapter.ts. */
  completeClient?: ClientCompletion | undefined;
}

export function createAdapterFactory({ sql, kv, clientCache, completeClient }: AdapterFactoryOptions): AdapterFactory {
  const revokeGrant: GrantRevoker = async (grantId) => {
    await Promise.all([revokeGrantInSql(sql, grantId), kvRevokeGrant(kv, grantId)]);
  };
  const adapters = new Map<string, Adapter>();

  return function adapterFor(modelName: string): Adapter {
    let adapter = adapters.get(modelName);
    if (adapter === undefined) {
      if (modelName === 'Client') adapter = new ClientAdapter(sql, { cache: clientCache, complete: completeClient });
      else if (DURABLE_MODELS.has(modelName)) adapter = new PostgresOidcAdapter(modelName, sql, revokeGrant);
      else adapter = new KvOidcAdapter(modelName, kv, revokeGrant);
      adapters.set(modelName, adapter);
    }
    return adapter;
  };
}
