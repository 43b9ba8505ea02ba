// `npm run demo:dpop`: a DPoP-bound token for demo-dpop-client (private_key_jwt, no TLS client
// certificate), then a settlement at the demo resource server with it, printing every step.
//   npm run demo:dpop            client_credentials
//   npm run demo:dpop -- login   authorization code + PAR + PKCE: sign in as alice in a browser
// It registers nothing: it uses the client, key and CA the authorization server's dev bootstrap
// created under DATA_DIR. Environment: DATA_DIR (.data), ISSUER (https://localhost:PUBLIC_PORT,
// 8443 unless set), DEMO_URL (DEMO_EXTERNAL_URL, else https://localhost:DEMO_PORT, 9443 unless
// set): the same variables `npm start` reads. TLS is verified against DATA_DIR/pki/ca.pem.
import { createServer } from 'node:http';
import { request } from 'node:https';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importPKCS8, decodeJwt, type CryptoKey, type JWK } from 'jose';

const CLIENT_ID = 'demo-dpop-client';
const REDIRECT_URI = 'http://127.0.0.1:8788/callback';
const SETTLEMENT = { amount: '125.00', currency: 'EUR', counterparty: 'ACME GmbH', reference: 'INV-2026-0042' };

const dataDir = resolve(process.env.DATA_DIR ?? '.data');
const env = (name: string) => process.env[name]?.trim() || undefined;
const issuer = (env('ISSUER') ?? `https://localhost:${env('PUBLIC_PORT') ?? '8443'}`).replace(/\/+$/, '');
const demoUrl = (env('DEMO_URL') ?? env('DEMO_EXTERNAL_URL') ?? `https://localhost:${env('DEMO_PORT') ?? '9443'}`).replace(/\/+$/, '');
const mode = process.argv[2] ?? 'token';

/** `json`: the parsed body when it is a JSON object. */
interface Answer { status: number; headers: Record<string, string | string[] | undefined>; json: Record<string, unknown> | undefined; text: string }

const say = (line = '') => process.stdout.write(`${line}\n`);
const step = (n: number, what: string) => say(`\n${n}. ${what}`);
const show = (value: unknown) => say(`   ${JSON.stringify(value, null, 2).replace(/\n/g, '\n   ')}`);

let ca: string;
function https(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = request(url, { method: init.method ?? 'GET', headers: { accept: 'application/json', ...init.headers }, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | undefined;
        try { json = text ? JSON.parse(text) as Record<string, unknown> : undefined; } catch { json = undefined; }
        done({ status: res.statusCode ?? 0, headers: res.headers, json, text });
      });
    });
    req.on('error', fail);
    req.end(init.body);
  });
}

const form = (fields: Record<string, string>) => ({
  method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(),
});

interface Dpop { privateKey: CryptoKey; jwk: JWK; jkt: string; nonces: Map<string, string> }

/** RFC 9449 §4.2: a fresh proof per request, bound to method and URL (and the token, at an API). */
async function proof(dpop: Dpop, method: string, url: string, accessToken?: string): Promise<string> {
  const origin = new URL(url).origin;
  return new SignJWT({
    htm: method,
    htu: url.split(/[?#]/)[0],
    ...(dpop.nonces.has(origin) ? { nonce: dpop.nonces.get(origin) } : {}),
    ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
  }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: dpop.jwk }).setJti(randomUUID()).setIssuedAt().sign(dpop.privateKey);
}

/** Sends a request with a DPoP proof; a use_dpop_nonce answer is retried once with the nonce. */
async function withDpop(
  dpop: Dpop,
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string },
  label: string,
  accessToken?: string,
  build?: () => Promise<{ headers?: Record<string, string>; body?: string }>,
): Promise<Answer> {
  for (let attempt = 1; ; attempt++) {
    const fresh = build ? await build() : {};
    const headers = { ...init.headers, ...fresh.headers, DPoP: await proof(dpop, init.method, url, accessToken) };
    const answer = await https(url, { ...init, ...fresh, headers });
    const nonce = answer.headers['dpop-nonce'];
    if (typeof nonce === 'string') dpop.nonces.set(new URL(url).origin, nonce);
    const challenged = answer.json?.error === 'use_dpop_nonce' || /error="use_dpop_nonce"/.test(String(answer.headers['www-authenticate'] ?? ''));
    if (!challenged || attempt > 1) return answer;
    say(`   ${label}: ${answer.status} use_dpop_nonce, DPoP-Nonce: ${String(nonce)} (RFC 9449 §8: the server wants its nonce in the proof)`);
    say(`   ${label}: retrying with a new proof carrying the nonce`);
  }
}

function fail(message: string): never {
  process.stderr.write(`\ndemo:dpop: ${message}\n`);
  process.exit(1);
}

async function clientAssertion(key: CryptoKey): Promise<Record<string, string>> {
  // RFC 7523 private_key_jwt: aud is the issuer, which every endpoint accepts.
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(CLIENT_ID).setSubject(CLIENT_ID)
    .setAudience(issuer).setJti(randomUUID()).setIssuedAt().setExpirationTime('60s').sign(key);
  return { client_id: CLIENT_ID, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt };
}

async function settle(n: number, dpop: Dpop, accessToken: string): Promise<void> {
  const url = `${demoUrl}/api/v1/settlements`;
  step(n, `POST ${url} with Authorization: DPoP <token> and a proof carrying ath (no client certificate)`);
  const created = await withDpop(dpop, url, { method: 'POST', headers: { authorization: `DPoP ${accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(SETTLEMENT) }, 'resource server', accessToken);
  say(`   ${created.status}`);
  show(created.json ?? created.text);
  if (created.status !== 201) fail(`the demo resource server answered ${created.status}`);

  step(n + 1, 'the same token as a Bearer token, as a thief without the DPoP key would send it');
  const stolen = await https(url, { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(SETTLEMENT) });
  say(`   ${stolen.status} WWW-Authenticate: ${String(stolen.headers['www-authenticate'])}`);
  if (stolen.status !== 401) fail(`a DPoP-bound token sent as Bearer was answered ${stolen.status}, not 401`);
}

function printToken(token: Record<string, unknown>): void {
  const claims = decodeJwt(String(token.access_token));
  show({ token_type: token.token_type, expires_in: token.expires_in, scope: token.scope, refresh_token: token.refresh_token ? '(issued)' : undefined });
  say('   access token claims:');
  show({ iss: claims.iss, sub: claims.sub, aud: claims.aud, client_id: claims.client_id, scope: claims.scope, cnf: claims.cnf });
}

async function loginFlow(dpop: Dpop, key: CryptoKey, endpoints: Record<string, string>): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  step(3, `POST ${endpoints.pushed_authorization_request_endpoint} (RFC 9126 PAR: PKCE S256, DPoP proof binds the code to the key)`);
  const par = await withDpop(dpop, endpoints.pushed_authorization_request_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 'PAR', undefined, async () => ({
    body: new URLSearchParams({
      ...await clientAssertion(key), response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'settlements:read settlements:write', state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    }).toString(),
  }));
  if (par.status !== 201) fail(`PAR answered ${par.status} ${par.text}`);
  show(par.json);

  const authorize = `${endpoints.authorization_endpoint}?${new URLSearchParams({ client_id: CLIENT_ID, request_uri: par.json?.request_uri as string }).toString()}`;
  step(4, 'open this in your browser, sign in and allow access (user alice; password in ' + join(dataDir, 'dev-user.json') + '):');
  say(`\n   ${authorize}\n`);
  const callback = await new Promise<URL>((done) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', REDIRECT_URI);
      if (url.pathname !== '/callback') { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('certbound demo: you can close this tab and return to the terminal.\n');
      server.close();
      done(url);
    }).listen(8788, '127.0.0.1');
  });
  say(`   redirected back: ${callback.href.replace(/code=[^&]+/, 'code=…')}`);
  const error = callback.searchParams.get('error');
  if (error) fail(`authorization refused: ${error} ${callback.searchParams.get('error_description') ?? ''}`);
  if (callback.searchParams.get('state') !== state) fail('state does not match');
  // RFC 9207 §2.4: the response names its issuer; a mix-up attack would show another one here.
  if (callback.searchParams.get('iss') !== issuer) fail(`iss ${callback.searchParams.get('iss')} is not ${issuer}`);
  say(`   iss = ${issuer} (RFC 9207), state matches`);

  step(5, `POST ${endpoints.token_endpoint} grant_type=authorization_code with the PKCE verifier and a DPoP proof`);
  const token = await withDpop(dpop, endpoints.token_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 'token endpoint', undefined, async () => ({
    body: new URLSearchParams({ ...await clientAssertion(key), grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: verifier }).toString(),
  }));
  if (token.status !== 200) fail(`token endpoint answered ${token.status} ${token.text}`);
  const body = token.json ?? fail(`token endpoint answered without a JSON object: ${token.text}`);
  printToken(body);
  return body.access_token as string;
}

async function main(): Promise<void> {
  if (mode !== 'token' && mode !== 'login') fail(`unknown mode "${mode}": use no argument (client_credentials) or "login"`);
  try {
    ca = await readFile(join(dataDir, 'pki', 'ca.pem'), 'utf8');
  } catch {
    fail(`no ${join(dataDir, 'pki', 'ca.pem')}: start the authorization server first (npm start), or set DATA_DIR`);
  }
  const key = await importPKCS8(await readFile(join(dataDir, 'pki', 'demo-dpop-client-key.pem'), 'utf8'), 'ES256');

  step(1, `GET ${issuer}/.well-known/openid-configuration`);
  const discovery = await https(`${issuer}/.well-known/openid-configuration`);
  if (discovery.status !== 200) fail(`discovery answered ${discovery.status}`);
  const endpoints = discovery.json as Record<string, string>;
  show({ token_endpoint: endpoints.token_endpoint, dpop_signing_alg_values_supported: discovery.json?.dpop_signing_alg_values_supported });

  step(2, 'generate a DPoP key pair (ES256); its RFC 7638 thumbprint is what the token will be bound to');
  const pair = await generateKeyPair('ES256');
  const jwk = await exportJWK(pair.publicKey);
  const dpop: Dpop = { privateKey: pair.privateKey, jwk, jkt: await calculateJwkThumbprint(jwk), nonces: new Map() };
  say(`   jkt = ${dpop.jkt}`);

  let accessToken: string;
  if (mode === 'login') {
    accessToken = await loginFlow(dpop, key, endpoints);
  } else {
    step(3, `POST ${endpoints.token_endpoint} grant_type=client_credentials, private_key_jwt, DPoP proof (public listener, no certificate)`);
    const token = await withDpop(dpop, endpoints.token_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 'token endpoint', undefined,
      async () => ({ body: form({ ...await clientAssertion(key), grant_type: 'client_credentials', scope: 'settlements:read settlements:write' }).body }));
    if (token.status !== 200) fail(`token endpoint answered ${token.status} ${token.text}`);
    const body = token.json ?? fail(`token endpoint answered without a JSON object: ${token.text}`);
    printToken(body);
    accessToken = body.access_token as string;
  }
  if (decodeJwt(accessToken).cnf && (decodeJwt(accessToken).cnf as { jkt?: string }).jkt !== dpop.jkt) fail('cnf.jkt is not the thumbprint of our DPoP key');
  await settle(mode === 'login' ? 6 : 4, dpop, accessToken);
  say('\nDone: the token works only together with the DPoP key that made the proofs.');
}

await main();
