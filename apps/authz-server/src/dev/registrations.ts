// First-start bootstrap for the dev setup (no TLS material configured): the dev PKI exists
// (dev/pki.ts); register the demo client and the demo resource server once, and tell the
// newcomer the exact curl that gets a certificate-bound token.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { SqlClient } from '../storage/sql.ts';
import type { ClientInvalidator } from '../storage/client-cache.ts';
import { findClient, upsertClient } from '../storage/postgres/clients.ts';
import { addClientCertificate, listClientCertificates } from '../storage/postgres/client-certificates.ts';
import { certificateRow } from '../admin/certificates.ts';
import { findResourceServer, upsertResourceServer } from '../storage/postgres/resource-servers.ts';
import type { DevPki } from './pki.ts';
import { DEMO_DPOP_CLIENT_ID, ensureDemoDpopClient } from './dpop-demo-client.ts';
import { DEV_USERNAME, ensureDevUser } from './account.ts';

export const DEMO_CLIENT_ID = 'demo-client';
/** The demo resource server's identifier with the default DEMO_PORT (9443). */
export const DEMO_RESOURCE = 'https://localhost:9443';
export const DEMO_SCOPES = ['settlements:read', 'settlements:write'];

type Env = Record<string, string | undefined>;
const set = (env: Env, name: string) => env[name]?.trim() || undefined;

/**
 * Where the dev setup's other processes are, from the same variables `npm start` hands to all
 * of them (scripts/start.ts): the demo resource server's identifier is its audience, which
 * resource-server-demo defaults to https://localhost:DEMO_PORT (DEMO_AUDIENCE overrides both);
 * the URL clients call it at is DEMO_EXTERNAL_URL, else that same origin.
 */
export function devDemoEndpoints(env: Env = process.env): { resource: string; url: string } {
  const origin = `https://localhost:${set(env, 'DEMO_PORT') ?? '9443'}`;
  return {
    resource: set(env, 'DEMO_AUDIENCE')?.replace(/\/+$/, '') ?? origin,
    url: set(env, 'DEMO_EXTERNAL_URL')?.replace(/\/+$/, '') ?? origin,
  };
}

/**
 * Registers what the dev setup needs, once. A DATA_DIR first started with another DEMO_PORT
 * keeps its old demo resource server (an admin may have granted it to clients of their own);
 * the current one is added, and the demo clients get it as a resource and as their default.
 * Each client written is then invalidated in the Client adapter's cache (`invalidateClient`:
 * stores.clientCache.invalidate, so instances already running drop their copy).
 */
export async function bootstrapDevRegistrations(
  sql: SqlClient,
  pki: DevPki,
  {
    demoResource = devDemoEndpoints().resource,
    invalidateClient = async () => undefined,
  }: { demoResource?: string; invalidateClient?: ClientInvalidator } = {},
): Promise<string[]> {
  const created: string[] = [];
  if (!await findResourceServer(sql, demoResource)) {
    await upsertResourceServer(sql, {
      identifier: demoResource,
      name: 'Settlement API (demo)',
      scopes: DEMO_SCOPES,
      token_format: 'jwt',
      access_token_ttl: null,
      sender_constraint_required: true,
    });
    created.push(`resource server ${demoResource}`);
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
      resources: { [demoResource]: DEMO_SCOPES },
      default_resource: demoResource,
    });
    await invalidateClient(DEMO_CLIENT_ID);
    created.push(`client ${DEMO_CLIENT_ID}`);
  }
  // Its certificate, registered (not pinned: the subject DN still decides), so the console's
  // timeline and the expiry notices show it from the first start. Once only: a retired one stays retired.
  if ((await listClientCertificates(sql, DEMO_CLIENT_ID)).length === 0) {
    const pem = await readFile(pki.demoClientCertFile, 'utf8');
    // Not pinned: oidc-provider's view of the client does not change, nothing to invalidate.
    if (await addClientCertificate(sql, certificateRow(DEMO_CLIENT_ID, new X509Certificate(pem)))) {
      created.push(`certificate of ${DEMO_CLIENT_ID} (${relative(process.cwd(), pki.demoClientCertFile) || pki.demoClientCertFile})`);
    }
  }
  // DPoP with private_key_jwt and no certificate (scripts/dpop-demo.ts), and a person to sign in.
  const dpopClient = await ensureDemoDpopClient(sql, pki.dir, demoResource, DEMO_SCOPES);
  if (dpopClient) {
    await invalidateClient(DEMO_DPOP_CLIENT_ID);
    created.push(dpopClient);
  }
  for (const clientId of [DEMO_CLIENT_ID, DEMO_DPOP_CLIENT_ID]) {
    if (!await followDemoResource(sql, clientId, demoResource)) continue;
    await invalidateClient(clientId);
    created.push(`resource ${demoResource} for client ${clientId} (DEMO_PORT changed)`);
  }
  const user = await ensureDevUser(sql, dirname(pki.dir));
  if (user.created) created.push(`dev user ${user.username} (password in ${user.file})`);
  return created;
}

/**
 * A demo client registered under another DEMO_PORT gets the current demo resource, as its
 * default. A client that holds it already is left alone (an admin's edits survive a restart).
 */
async function followDemoResource(sql: SqlClient, clientId: string, resource: string): Promise<boolean> {
  const client = await findClient(sql, clientId);
  if (!client) return false;
  const resources = (client.metadata.resources ?? {}) as Record<string, string[]>;
  if (resources[resource]) return false;
  await upsertClient(sql, {
    ...client.metadata,
    resources: { ...resources, [resource]: DEMO_SCOPES },
    default_resource: resource,
  });
  return true;
}

/**
 * The quick-start a newcomer copies: paths relative to where `npm start` ran, and the ports
 * actually configured. A command meant for another shell names every setting that differs from
 * the defaults (DATA_DIR, ISSUER, DEMO_URL, CERTBOUND_URL), since that shell has none of them.
 * `devKekFile`: the generated key-encryption key, when KEY_ENCRYPTION_KEY is unset (keys/kek.ts
 * generatedKekFile). `metricsUrl`: where /metrics answers (undefined when METRICS_PORT=off).
 */
export function quickStart(
  pki: DevPki,
  tokenEndpoint: string,
  devKekFile: string | undefined,
  cwd = process.cwd(),
  env: Env = process.env,
  metricsUrl?: string,
  /** the admin console's page (CONSOLE=on) */
  consoleUrl?: string,
): string {
  const rel = (file: string) => relative(cwd, file) || file;
  const tls = `--cacert ${rel(pki.caFile)} --cert ${rel(pki.demoClientCertFile)} --key ${rel(pki.demoClientKeyFile)}`;
  const demo = devDemoEndpoints(env);
  const settlements = `${demo.url}/api/v1/settlements`;
  const dataDir = dirname(pki.dir);
  // Only what differs from the defaults, and by the name the newcomer used for it.
  const prefix = (vars: Array<[string, string | undefined, string]>) =>
    vars.filter(([, value, byDefault]) => value !== undefined && value !== byDefault).map(([name, value]) => `${name}=${value} `).join('');
  const dataDirVar: [string, string, string] = ['DATA_DIR', rel(dataDir), '.data'];
  const dpopEnv = prefix([
    dataDirVar,
    set(env, 'ISSUER') ? ['ISSUER', set(env, 'ISSUER'), ''] : ['PUBLIC_PORT', set(env, 'PUBLIC_PORT'), '8443'],
    set(env, 'DEMO_EXTERNAL_URL') ? ['DEMO_URL', demo.url, ''] : ['DEMO_PORT', set(env, 'DEMO_PORT'), '9443'],
  ]);
  const mtlsOrigin = new URL(tokenEndpoint).origin;
  const cliEnv = prefix([
    dataDirVar,
    mtlsOrigin === `https://localhost:${set(env, 'MTLS_PORT') ?? '8444'}` ? ['MTLS_PORT', set(env, 'MTLS_PORT'), '8444'] : ['CERTBOUND_URL', mtlsOrigin, ''],
  ]);
  const settle = (cert: string) => [
    `  curl ${cert} -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
    `    -d '{"amount":"125.00","currency":"EUR","counterparty":"ACME GmbH","reference":"INV-2026-0042"}' \\`,
    `    ${settlements}`,
  ];
  return [
    ...(consoleUrl === undefined ? [] : [
      `The admin console, in your browser: ${consoleUrl}`,
      `Sign in as ${DEV_USERNAME} (who has the admin role); her password is in ${rel(dataDir)}/dev-user.json.`,
      '',
    ]),
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
    ...settle(tls),
    '',
    'The same token from another certificate is refused (401 invalid_token):',
    '',
    ...settle(`--cacert ${rel(pki.caFile)} --cert ${rel(join(pki.dir, 'admin.pem'))} --key ${rel(join(pki.dir, 'admin-key.pem'))}`),
    '',
    `DPoP instead of a certificate: ${DEMO_DPOP_CLIENT_ID} (private_key_jwt, key in ${rel(pki.dir)}) gets a DPoP-bound`,
    'token, answering the nonce challenge, and settles with it; a DPoP proof needs code, not curl:',
    '',
    `  ${dpopEnv}npm run demo:dpop            # client_credentials + DPoP, then the settlement API`,
    `  ${dpopEnv}npm run demo:dpop -- login   # authorization code + PAR + PKCE in your browser, as alice (password in ${rel(dataDir)}/dev-user.json)`,
    '',
    'Manage clients, resource servers and certificates with the admin certificate (README "Managing clients"):',
    '',
    `  ${cliEnv}npx certbound clients list`,
    '',
    'Why would a certificate be refused? Ask the server, which walks the token endpoint\'s checks and issues nothing',
    `(admin.pem for demo-client shows the subject mismatch; doctor prints each step and the fix):`,
    '',
    `  curl --cacert ${rel(pki.caFile)} --cert ${rel(join(pki.dir, 'admin.pem'))} --key ${rel(join(pki.dir, 'admin-key.pem'))} '${mtlsOrigin}/mtls/check?client_id=${DEMO_CLIENT_ID}'`,
    `  ${cliEnv}npx certbound doctor --cert ${rel(pki.demoClientCertFile)} --client-id ${DEMO_CLIENT_ID}`,
    ...(metricsUrl === undefined ? [] : [
      '',
      'Prometheus metrics (certificate expiry, token requests and refusals by reason):',
      '',
      `  curl -s ${metricsUrl}/metrics | grep certbound_client_certificate_expiry`,
    ]),
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

/** The metrics URL for the banner: undefined when metrics are off or the port is not known (0 = ephemeral, seen by the primary). */
export function metricsUrl(host: string, port: number | undefined): string | undefined {
  if (port === undefined || port === 0) return undefined;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
