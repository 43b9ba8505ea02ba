/** An authorization server in miniature: signing keys, JWT access tokens, DPoP proofs, a JWKS server. */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export const ISSUER = 'https://as.certbound.test';
export const AUDIENCE = 'https://api.certbound.test';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(alg = 'ES256', kid: string = randomUUID()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function accessToken(key: SigningKey, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const iat = nowSeconds();
  const payload: JWTPayload = { iss: ISSUER, aud: AUDIENCE, iat, exp: iat + 300, client_id: 'client-1', scope: 'settlements:read', jti: randomUUID(), sub: 'client-1', ...claims };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey);
}

const b64u = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A JWS with any header and payload, signed by nobody in particular (alg none) or with HMAC bytes. */
export function unsignedJwt(header: object, payload: object, signature = ''): string {
  return `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}.${signature}`;
}

export function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export interface ProofKey {
  privateKey: CryptoKey;
  jwk: JWK;
  privateJwk: JWK;
}

export async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}

export interface ProofInput {
  htm?: string;
  htu: string;
  accessToken?: string;
  iat?: number;
  jti?: string;
  nonce?: string;
  typ?: string;
  alg?: string;
  jwk?: JWK;
  omit?: string[];
}

export function dpopProof(key: ProofKey, input: ProofInput): Promise<string> {
  const payload: JWTPayload = {
    jti: input.jti ?? randomUUID(),
    htm: input.htm ?? 'GET',
    htu: input.htu,
    iat: input.iat ?? nowSeconds(),
    ...(input.accessToken ? { ath: ath(input.accessToken) } : {}),
    ...(input.nonce ? { nonce: input.nonce } : {}),
  };
  for (const name of input.omit ?? []) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: input.alg ?? 'ES256', typ: input.typ ?? 'dpop+jwt', jwk: input.jwk ?? key.jwk })
    .sign(key.privateKey);
}

export interface JwksServer {
  url: string;
  keys: JWK[];
  fetches: number;
  close(): Promise<void>;
}

/** A JWKS endpoint on loopback whose key list the test can change. */
export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state: JwksServer = { url: '', keys, fetches: 0, close: async () => {} };
  const server: Server = createServer((_req, res) => {
    state.fetches++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
