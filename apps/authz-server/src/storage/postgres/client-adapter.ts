// oidc-provider's Client model read from the typed `clients` table. Clients are written by the
// admin API (postgres/clients.ts), never by oidc-provider, so only find is supported. find reads
// the database unless given a ClientCache (client-cache.ts): then an answer is reused for at most
// 2 s, and admin changes invalidate it on every instance through the KvStore's pub/sub. What the
// oidc side derives from other rows (the pinned certificates: oidc/pinned-certificates.ts) is
// added by the `complete` it hands in, inside the cached load.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { SqlClient } from '../sql.ts';
import { findClient } from './clients.ts';
import type { ClientCache } from '../client-cache.ts';

/**
 * Turns a stored client's metadata (client_id set from its row) into what oidc-provider is
 * given, reading further rows through `sql` if it needs them.
 */
export type ClientCompletion = (metadata: AdapterPayload, sql: SqlClient) => Promise<AdapterPayload>;

export interface ClientAdapterOptions {
  cache?: ClientCache | undefined;
  /** Without it, the stored metadata as it is. */
  complete?: ClientCompletion | undefined;
}

export class ClientAdapter implements Adapter {
  readonly #sql: SqlClient;
  readonly #cache: ClientCache | undefined;
  readonly #complete: ClientCompletion | undefined;
  readonly #load = (id: string) => this.#read(id);

  constructor(sql: SqlClient, opts: ClientAdapterOptions = {}) {
    this.#sql = sql;
    this.#cache = opts.cache;
    this.#complete = opts.complete;
  }

  /** The client's metadata, completed; undefined when it does not exist or is disabled. */
  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.#cache === undefined) return this.#read(id);
    // A copy: oidc-provider must not be able to change the cached answer.
    const cached = await this.#cache.find(id, this.#load);
    return cached === undefined ? undefined : structuredClone(cached);
  }

  async #read(id: string): Promise<AdapterPayload | undefined> {
    const row = await findClient(this.#sql, id);
    if (row === undefined || row.disabled) return undefined;
    const metadata: AdapterPayload = { ...row.metadata, client_id: row.client_id };
    return this.#complete === undefined ? metadata : this.#complete(metadata, this.#sql);
  }

  upsert(): Promise<void> {
    return unsupported('upsert');
  }

  findByUid(): Promise<void> {
    return unsupported('findByUid');
  }

  findByUserCode(): Promise<void> {
    return unsupported('findByUserCode');
  }

  consume(): Promise<void> {
    return unsupported('consume');
  }

  destroy(): Promise<void> {
    return unsupported('destroy');
  }

  revokeByGrantId(): Promise<void> {
    return unsupported('revokeByGrantId');
  }
}

function unsupported(method: string): Promise<never> {
  return Promise.reject(
    new Error(`Client adapter: ${method} is not supported; clients are managed through /admin/v1 (postgres/clients.ts)`),
  );
}
