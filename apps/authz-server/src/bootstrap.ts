// First-start bootstrap for the dev setup (no TLS material configured): the dev PKI exists
// (pki/dev-pki.ts); register the demo client and the demo resource server once, and tell the
// newcomer the exact curl that gets a certificate-bound token.
import { dirname, relative } from 'node:path';
import type { SqlClient } from './storage/sql.ts';
import { findClient, findResourceServer, upsertClient, upsertResourceServer } from './storage/clients-queries.ts';
import type { DevPki } from './pki/dev-pki.ts';
import { DEMO_DPOP_CLIENT_ID, ensureDemoDpopClient } from './oauth/dpop-demo-client.ts';
import { ensureDevUser } from './accounts/dev-account.ts';

export const DEMO_CLIENT_ID = 'demo-client';
export const DEMO_RESOURCE = 'https://localhost:9443';
export const DEMO_SCOPES = ['settlements:read', 'settlements:write'];

export async function bootstrapDevRegistrations(sql: SqlClient, pki: DevPki): Promise<string[]> {
  const created: string[] = [];
  if (!await findResourceServer(sql, DEMO_RESOURCE)) {
    await upsertResourceServer(sql, {
      identifier: DEMO_RESOURCE,
      name: 'Settlement API (demo)',
      scopes: DEMO_SCOPES,
      token_format: 'jwt',
      access_token_ttl: null,
      sender_constraint_required: true,
    });
    created.push(`resource server ${DEMO_RESOURCE}`);
  }
  if (!await findClient(sql, DEMO_CLIENT_ID)) {
    await upsertClient(sql, {
      client_id: DEMO_CLIENT_ID,
      client_name: 'Demo client',
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: pki.demoClientSubjectDn,
      tls_client_certificate_bound_access_tokens: true,
      grant_types: ['client_credentials'],
      response_types: [],
      resources: { [DEMO_RESOURCE]: DEMO_SCOPES },
      default_resource: DEMO_RESOURCE,
    });
    created.push(`client ${DEMO_CLIENT_ID}`);
  }
  // DPoP with private_key_jwt and no certificate (scripts/dpop-demo.ts), and a person to sign in.
  const dpopClient = await ensureDemoDpopClient(sql, pki.dir, DEMO_RESOURCE, DEMO_SCOPES);
  if (dpopClient) created.push(dpopClient);
  const user = await ensureDevUser(sql, dirname(pki.dir));
  if (user.created) created.push(`dev user ${user.username} (password in ${user.file})`);
  return created;
}

/**
 * The quick-start a newcomer copies: paths relative to where `npm start` ran. `devKekFile`: the
 * generated key-encryption key, when KEY_ENCRYPTION_KEY is unset (keys/kek.ts generatedKekFile).
 */
export function quickStart(pki: DevPki, tokenEndpoint: string, devKekFile: string | undefined, cwd = process.cwd()): string {
  const rel = (file: string) => relative(cwd, file) || file;
  const tls = `--cacert ${rel(pki.caFile)} --cert ${rel(pki.demoClientCertFile)} --key ${rel(pki.demoClientKeyFile)}`;
  return [
    'Get a certificate-bound access token as demo-client:',
    '',
    `  curl --cacert ${rel(pki.caFile)} \\`,
    `    --cert ${rel(pki.demoClientCertFile)} --key ${rel(pki.demoClientKeyFile)} \\`,
    `    -d grant_type=client_credentials -d client_id=${DEMO_CLIENT_ID} \\`,
    `    -d scope='${DEMO_SCOPES.join(' ')}' \\`,
    `    ${tokenEndpoint}`,
    '',
    'Settle with it at the demo resource server, over the same certificate:',
    '',
    `  TOKEN=$(curl -s ${tls} -d grant_type=client_credentials -d client_id=${DEMO_CLIENT_ID} ${tokenEndpoint} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
    `  curl ${tls} -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
    `    -d '{"amount":"125.00","currency":"EUR","counterparty":"ACME GmbH","reference":"INV-2026-0042"}' \\`,
    `    ${DEMO_RESOURCE}/api/v1/settlements`,
    '',
    'The same token from another certificate is refused (401 invalid_token): try --cert admin.pem.',
    '',
    `DPoP instead of a certificate: ${DEMO_DPOP_CLIENT_ID} (private_key_jwt, key in ${rel(pki.dir)}) gets a DPoP-bound`,
    'token, answering the nonce challenge, and settles with it; a DPoP proof needs code, not curl:',
    '',
    '  npm run demo:dpop            # client_credentials + DPoP, then the settlement API',
    `  npm run demo:dpop -- login   # authorization code + PAR + PKCE in your browser, as alice (password in ${rel(dirname(pki.dir))}/dev-user.json)`,
    '',
    `The token's cnf.x5t#S256 is the SHA-256 thumbprint of ${rel(pki.demoClientCertFile)}:`,
    `  openssl x509 -in ${rel(pki.demoClientCertFile)} -outform DER | openssl dgst -sha256 -binary | basenc --base64url | tr -d '='`,
    ...(devKekFile === undefined ? [] : [
      '',
      `Development key: the signing keys are encrypted with ${rel(devKekFile)}, a key generated next to the data it`,
      'protects. Never use it in production: set KEY_ENCRYPTION_KEY (openssl rand -base64 32), which certbound',
      'requires once TLS_CERT_FILE or DATABASE_URL is set.',
    ]),
  ].join('\n');
}
