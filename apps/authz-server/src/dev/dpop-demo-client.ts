// The dev client for DPoP, made on first start next to demo-client: `demo-dpop-client`
// authenticates with private_key_jwt (its ES256 key in DATA_DIR/pki/demo-dpop-client-key.pem)
// and gets DPoP-bound tokens only, so it needs no TLS client certificate at all. It may also run
// the authorization-code flow (PAR + PKCE) through the login page, redirecting to the loopback
// listener of scripts/dpop-demo.ts. `npm run demo:dpop` drives it.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { join } from 'node:path';
import type { SqlClient } from '../storage/sql.ts';
import { findClient, upsertClient } from '../storage/postgres/clients.ts';
import { readIfExists, writeFileOnce, KEY_MODE } from '../pki/files.ts';

export const DEMO_DPOP_CLIENT_ID = 'demo-dpop-client';
/** Where scripts/dpop-demo.ts listens for the authorization response in its `login` mode. */
export const DEMO_DPOP_REDIRECT_URI = 'http://127.0.0.1:8788/callback';

export function demoDpopClientKeyFile(pkiDir: string): string {
  return join(pkiDir, 'demo-dpop-client-key.pem');
}

/** The client's public signing key as registered: kid = its RFC 7638 thumbprint. */
export async function publicSigningJwk(privateKeyPem: string): Promise<JsonWebKey> {
  const jwk = createPublicKey(createPrivateKey(privateKeyPem)).export({ format: 'jwk' });
  return { ...jwk, kid: await calculateJwkThumbprint(jwk, 'sha256'), alg: 'ES256', use: 'sig' };
}

export async function ensureDemoDpopClient(sql: SqlClient, pkiDir: string, resource: string, scopes: readonly string[]): Promise<string | undefined> {
  const keyFile = demoDpopClientKeyFile(pkiDir);
  if (await readIfExists(keyFile) === undefined) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFileOnce(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, KEY_MODE);
  }
  const jwk = await publicSigningJwk((await readIfExists(keyFile))!);
  const existing = await findClient(sql, DEMO_DPOP_CLIENT_ID);
  const registered = (existing?.metadata.jwks as { keys?: JsonWebKey[] } | undefined)?.keys?.[0];
  if (existing && registered?.kid === jwk.kid) return undefined;
  await upsertClient(sql, {
    client_id: DEMO_DPOP_CLIENT_ID,
    client_name: 'Demo DPoP client',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [jwk] },
    dpop_bound_access_tokens: true,
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [DEMO_DPOP_REDIRECT_URI],
    resources: { [resource]: [...scopes] },
    default_resource: resource,
  });
  return existing ? `client ${DEMO_DPOP_CLIENT_ID} (new key ${keyFile})` : `client ${DEMO_DPOP_CLIENT_ID}`;
}
