// Hand-made RFC 9449 proofs and RFC 7523 client assertions, for tests that must send exactly
// what they mean (a replayed proof, a wrong htu, an assertion for another audience).
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

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

export async function dpopProof(key: TestKey, claims: { htm?: string; htu: string; nonce?: string; ath?: string; accessToken?: string; jti?: string; iat?: number }): Promise<string> {
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
