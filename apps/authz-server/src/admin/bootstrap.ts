// First start: the admin API's own resource server and the `admin` client, each registered only
// when absent (several instances may start at once: insert ... on conflict do nothing), each with
// its audit row in the same transaction. The admin is an OAuth client like any other: it
// authenticates with tls_client_auth and its plain client_credentials request
// (client_id=admin&scope=admin) gets a certificate-bound token for ADMIN_RESOURCE.
import type { SqlClient } from '../storage/sql.ts';
import type { ClientMetadata } from '../storage/clients-queries.ts';
import { insertClient } from '../storage/admin-clients-queries.ts';
import { insertResourceServer } from '../storage/resource-servers-queries.ts';
import { appendAudit } from '../storage/audit-queries.ts';
import { changedFields, SYSTEM_ACTOR, targets } from './audit.ts';
import { clientView } from './routes/clients.ts';
import { resourceServerView } from './routes/resource-servers.ts';
import { ADMIN_SCOPE } from './authenticate.ts';

export const ADMIN_CLIENT_ID = 'admin';
/** The admin API's resource indicator (RFC 8707): the audience of admin tokens. */
export const ADMIN_RESOURCE = 'urn:certbound:admin-api';

export type AdminMatcher = { tls_client_auth_subject_dn: string } | { tls_client_auth_san_uri: string };

export interface AdminBootstrap {
  /** what this call registered, for the log */
  created: string[];
  /** true when there is no admin client and none could be registered (no matcher configured) */
  missingAdmin: boolean;
}

async function audited(tx: SqlClient, action: string, target: string, after: Record<string, unknown>): Promise<void> {
  const diff = changedFields(null, after);
  await appendAudit(tx, { requestId: 'bootstrap', actorClientId: SYSTEM_ACTOR, actorX5t: null, action, target, before: null, after: diff.after });
}

export async function bootstrapAdmin(sql: SqlClient, matcher: AdminMatcher | undefined): Promise<AdminBootstrap> {
  const created: string[] = [];
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
      await audited(tx, 'resource_server.create', targets.resourceServer(ADMIN_RESOURCE), resourceServerView(rs));
      created.push(`resource server ${ADMIN_RESOURCE}`);
    }
  });

  const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from clients where client_id = $1', [ADMIN_CLIENT_ID]);
  if (rows[0]!.n > 0) return { created, missingAdmin: false };
  if (matcher === undefined) return { created, missingAdmin: true };

  const metadata: ClientMetadata = {
    client_id: ADMIN_CLIENT_ID,
    client_name: 'certbound administrator',
    token_endpoint_auth_method: 'tls_client_auth',
    ...matcher,
    tls_client_certificate_bound_access_tokens: true,
    grant_types: ['client_credentials'],
    response_types: [],
    scope: ADMIN_SCOPE,
    default_resource: ADMIN_RESOURCE,
  };
  await sql.transaction(async (tx) => {
    const client = await insertClient(tx, metadata, false);
    if (client) {
      await audited(tx, 'client.create', targets.client(ADMIN_CLIENT_ID), clientView(client));
      created.push(`client ${ADMIN_CLIENT_ID} (${Object.entries(matcher).map(([k, v]) => `${k} "${v}"`).join('')})`);
    }
  });
  return { created, missingAdmin: false };
}
