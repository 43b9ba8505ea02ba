// certbound certificate pinning, as oidc-provider sees a client: a tls_client_auth client with
// `certificate_pinning` accepts only its active certificates registered through /admin/v1, so
// its metadata carries `certificate_thumbprints`, their x5t#S256, read from client_certificates
// (storage returns the rows; this is the rule). oidc/client-certificate.ts then requires the
// presented certificate to be among them. It runs inside the Client adapter's cached load
// (storage/postgres/client-adapter.ts), so a token request costs no query.
import type { AdapterPayload } from 'oidc-provider';
import type { SqlClient } from '../storage/sql.ts';
import { activeThumbprints } from '../storage/postgres/client-certificates.ts';

/**
 * The stored metadata with `certificate_thumbprints` set from the client's active certificates
 * when it pins them; a `certificate_thumbprints` found in the stored metadata never counts (only
 * rows registered through /admin/v1 do), so it is dropped either way.
 */
export async function withPinnedCertificates(stored: AdapterPayload, sql: SqlClient): Promise<AdapterPayload> {
  const { certificate_thumbprints: _stored, ...metadata } = stored;
  if (metadata.certificate_pinning !== true) return metadata;
  return { ...metadata, certificate_thumbprints: await activeThumbprints(sql, String(metadata.client_id)) };
}
