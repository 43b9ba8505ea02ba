// First start: the admin API's own resource server and the admin client (the first of
// ADMIN_CLIENT_IDS, `admin` by default), each registered only when absent (several instances may
// start at once: insert ... on conflict do nothing), each with its audit row in the same
// transaction. The admin is an OAuth client like any other: it authenticates with
// tls_client_auth, holds ADMIN_RESOURCE with scope `admin`, and its plain client_credentials
// request (client_id=admin&scope=admin) gets a certificate-bound token for it.
import type { SqlClient } from '../storage/sql.ts';
import { clientsHoldingResource, findClient, insertClient, type ClientMetadata } from '../storage/postgres/clients.ts';
import { insertResourceServer } from '../storage/postgres/resource-servers.ts';
import { recordSystemChange, targets } from './audit.ts';
import { clientView } from './routes/clients.ts';
import { resourceServerView } from './routes/resource-servers.ts';
import { ADMIN_RESOURCE, ADMIN_SCOPE } from '../oidc/resource-indicators.ts';
import { CONSOLE_CLIENT_ID } from '../oidc/vocabulary.ts';

/** The default of ADMIN_CLIENT_IDS: the client registered on first start. */
export const ADMIN_CLIENT_ID = 'admin';
export { ADMIN_RESOURCE };

export type AdminMatcher = { tls_client_auth_subject_dn: string } | { tls_client_auth_san_uri: string };

export interface AdminBootstrap {
  /** what this call registered, for the log */
  created: string[];
  /** true when there is no admin client and none could be registered (no matcher configured) */
  missingAdmin: boolean;
  /**
   * Clients whose metadata holds ADMIN_RESOURCE but that are not in ADMIN_CLIENT_IDS (e.g. kept by
   * db/migrations/0004 from a flat `scope` with `admin`): the token endpoint refuses them that
   * resource; listed so the operator can remove it or add them to ADMIN_CLIENT_IDS.
   */
  strayAdminHolders: string[];
}

export async function bootstrapAdmin(
  sql: SqlClient,
  matcher: AdminMatcher | undefined,
  adminClientIds: readonly string[] = [ADMIN_CLIENT_ID],
): Promise<AdminBootstrap> {
  const created: string[] = [];
  const adminClientId = adminClientIds[0] ?? ADMIN_CLIENT_ID;
  // The console holds it for people with the admin role (oidc/resource-indicators.ts): not a stray.
  const strayAdminHolders = (await clientsHoldingResource(sql, ADMIN_RESOURCE, { limit: 100 }))
    .filter((id) => !adminClientIds.includes(id) && id !== CONSOLE_CLIENT_ID);
  await sql.transaction(async (tx) => {
    const rs = await insertResourceServer(tx, {
      identifier: ADMIN_RESOURCE,
      name: 'certbound management API',
      scopes: [ADMIN_SCOPE],
      token_format: 'jwt',
      access_token_ttl: null,
      sender_constraint_required: true,
    });
    if (rs) {
      await recordSystemChange(tx, { action: 'resource_server.create', target: targets.resourceServer(ADMIN_RESOURCE), before: null, after: resourceServerView(rs) });
      created.push(`resource server ${ADMIN_RESOURCE}`);
    }
  });

  if (await findClient(sql, adminClientId) !== undefined) return { created, missingAdmin: false, strayAdminHolders };
  if (matcher === undefined) return { created, missingAdmin: true, strayAdminHolders };

  const metadata: ClientMetadata = {
    client_id: adminClientId,
    client_name: 'certbound administrator',
    token_endpoint_auth_method: 'tls_client_auth',
    ...matcher,
    tls_client_certificate_bound_access_tokens: true,
    grant_types: ['client_credentials'],
    response_types: [],
    resources: { [ADMIN_RESOURCE]: [ADMIN_SCOPE] },
    default_resource: ADMIN_RESOURCE,
  };
  await sql.transaction(async (tx) => {
    const client = await insertClient(tx, metadata, false);
    if (client) {
      await recordSystemChange(tx, { action: 'client.create', target: targets.client(adminClientId), before: null, after: clientView(client) });
      created.push(`client ${adminClientId} (${Object.entries(matcher).map(([k, v]) => `${k} "${v}"`).join('')})`);
    }
  });
  return { created, missingAdmin: false, strayAdminHolders };
}
