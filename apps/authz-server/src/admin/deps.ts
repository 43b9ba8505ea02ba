// What the route handlers of /admin/v1 need from the rest of the server.
import type { SqlClient } from '../storage/sql.ts';
import type { ClientMetadata } from '../storage/postgres/clients.ts';
import type { RecentRefusals } from '../storage/kv/recent-refusals.ts';
import type { TrustStore } from '../mtls/trust-store.ts';
import type { RevocationChecker, RevocationHealth } from '../mtls/revocation/index.ts';
import type { ClientRegistration } from '../mtls/diagnosis.ts';
import type { RevokeDeps } from './revoke.ts';

/** What the console's read routes (/refusals, /status, /certificates/check) use; absent = that part is empty or skipped. */
export interface ConsoleRouteDeps {
  /** the refusal reporter's recent refusals (storage/kv/recent-refusals.ts) */
  recentRefusals?: RecentRefusals | undefined;
  /** this process's record of OCSP / CRL fetches (mtls/revocation/health.ts) */
  revocationHealth?: RevocationHealth | undefined;
  /** the token endpoint's revocation checker, for POST /certificates/check (same caches) */
  revocation?: RevocationChecker | undefined;
  /** the client's metadata as the token endpoint sees it (the Client adapter); undefined = unknown or disabled */
  findClientRegistration?: ((clientId: string) => Promise<ClientRegistration | undefined | void>) | undefined;
}

export interface RouteDeps extends RevokeDeps, ConsoleRouteDeps {
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
