// Hand-made RFC 9449 proofs and RFC 7523 client assertions, for tests that must send exactly
// what they mean (a replayed proof, a wrong htu, an assertion for another audience).
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importPKCS8, type CryptoKey, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { demoDpopClientKeyFile } from '../../apps/authz-server/src/dev/dpop-demo-client.ts';
import { tlsFetch } from './tls-fetch.ts';

export interface TestKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

export async function testKey(): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

export async function dpopProof(
  key: TestKey, claims: { htm?: string; htu: string; nonce?: string; ath?: string; accessToken?: string; jti?: string; iat?: number },
): Promise<string> {
  const { accessToken, htm = 'POST', jti = randomUUID(), iat = Math.floor(Date.now() / 1000), ...rest } = claims;
  return new SignJWT({
    htm, ...rest,
    ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
  }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk }).setJti(jti).setIssuedAt(iat).sign(key.privateKey);
}

export async function clientAssertion(key: TestKey, clientId: string, aud: string | string[], jti = randomUUID()): Promise<Record<string, string>> {
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(clientId).setSubject(clientId)
    .setAudience(aud).setJti(jti).setIssuedAt().setExpirationTime('60s').sign(key.privateKey);
  return { client_id: clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt };
}

/**
 * A DPoP-bound access token for the dev PKI's demo-dpop-client (private_key_jwt), through the
 * authorization server's nonce challenge, and the key its proofs must be signed with.
 */
export async function demoDpopToken(issuerOrigin: string, ca: string, pkiDir: string, scope = 'settlements:read'): Promise<{ accessToken: string; key: TestKey }> {
  const issuer = new URL(issuerOrigin);
  const fetchOptions = { [oauth.customFetch]: tlsFetch({ ca }) };
  const server = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, fetchOptions));
  const client: oauth.Client = { client_id: 'demo-dpop-client' };
  const auth = oauth.PrivateKeyJwt(await importPKCS8(await readFile(demoDpopClientKeyFile(pkiDir), 'utf8'), 'ES256'));
  const pair = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  const key = { privateKey: pair.privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
  const DPoP = oauth.DPoP(client, pair);
  const request = async () => oauth.processClientCredentialsResponse(server, client,
    await oauth.clientCredentialsGrantRequest(server, client, auth, { scope }, { ...fetchOptions, DPoP }));
  const tokens = await request().catch((err: unknown) => {
    if (oauth.isDPoPNonceError(err)) return request();
    throw err;
  });
  if (tokens.token_type !== 'dpop') throw new Error(`expected a DPoP-bound token, got token_type ${tokens.token_type}`);
  return { accessToken: tokens.access_token, key };
}
