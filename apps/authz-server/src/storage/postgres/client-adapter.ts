// oidc-provider's Client model read from the typed `clients` table. Clients are written by the
// admin API (postgres/clients.ts), never by oidc-provider, so only find is supported. find reads
// the database unless given a ClientCache (client-cache.ts): then an answer is reused for at most
// 2 s, and admin changes invalidate it on every instance through the KvStore's pub/sub.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { SqlClient } from '../sql.ts';
import { findClient } from './clients.ts';
import { activeThumbprints } from './client-certificates.ts';
import type { ClientCache } from '../client-cache.ts';

export class ClientAdapter implements Adapter {
  readonly #sql: SqlClient;
  readonly #cache: ClientCache | undefined;
  readonly #load = (id: string) => this.#read(id);

  constructor(sql: SqlClient, cache?: ClientCache) {
    this.#sql = sql;
    this.#cache = cache;
  }

  /**
   * The client's metadata; undefined when it does not exist or is disabled. A client with
   * `certificate_pinning` also gets `certificate_thumbprints`: the x5t#S256 of its active
   * certificates, which oidc/client-certificate.ts requires the presented one to be among.
   */
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
    delete metadata.certificate_thumbprints;
    if (metadata.certificate_pinning === true) metadata.certificate_thumbprints = await activeThumbprints(this.#sql, id);
    return metadata;
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
