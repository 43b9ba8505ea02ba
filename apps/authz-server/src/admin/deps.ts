// What the route handlers of /admin/v1 need from the rest of the server.
import type { SqlClient } from '../storage/sql.ts';
import type { ClientMetadata } from '../storage/postgres/clients.ts';
import type { TrustStore } from '../mtls/trust-store.ts';
import type { RevokeDeps } from './revoke.ts';

export interface RouteDeps extends RevokeDeps {
  sql: SqlClient;
  /** the configured client CAs: certificates added to tls_client_auth clients must chain to them */
  trustStore: TrustStore;
  /** CLIENT_CERT_MIN_RSA_BITS: the same key-strength floor as the token endpoint */
  minRsaBits?: number;
  /** oidc-provider's own client validation, on the metadata as oidc-provider will see it */
  validateWithProvider: (metadata: ClientMetadata) => Promise<void>;
  staticScopes: ReadonlySet<string>;
  /** ADMIN_CLIENT_IDS: the only clients that may hold the admin API's resource */
  adminClientIds: readonly string[];
  signingAlgs: readonly string[];
}
