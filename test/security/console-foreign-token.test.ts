// Attack class: a token that is not the console's, presented where the console's are accepted,
// or the console's where it is not. Issue 15 opens /admin/v1 on the PUBLIC listener to DPoP-bound
// tokens; that door must open only for tokens of certbound-console (for a person with the admin
// role), never for: a DPoP-bound token of another public client (even one whose stored metadata
// was made to hold the admin resource, or an admin-audience token of it minted with the server's
// own signing key: "however obtained"); the admin client's certificate-bound token, which needs
// its certificate and so the mutual-TLS listener; a console token sent as a Bearer token (a
// downgrade that would drop the proof of possession); and a console token taken to the mutual-TLS
// listener over some client certificate. Each is refused with 401 invalid_token naming the check,
// and nothing it sends changes a client or the audit log.
//
// A real server (test/support/authz.ts: real TLS, embedded storage or PostgreSQL + Redis when
// TEST_DATABASE_URL / TEST_REDIS_URL are set), the real login page and token endpoint.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SignJWT, importJWK } from 'jose';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { resolveKeyEncryptionKey } from '../../apps/authz-server/src/keys/kek.ts';
import { loadOrCreateSigningKeys } from '../../apps/authz-server/src/keys/signing-keys.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { testKey, type TestKey } from '../support/dpop.ts';
import { https, type HttpsAnswer } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';
import {
  ADMIN_API, adminWorld, authorize, consoleApi, consoleConfig, consoleTokenRequest, exchangeCode, signInToConsole, type ConsoleConfig, type ConsoleSession,
} from '../support/console-session.ts';

const PASSWORD = 'correct horse battery staple';
const LEDGER = 'https://ledger.security.test';
const ROGUE = 'rogue-spa';
const ROGUE_CALLBACK = 'https://rogue.example/callback';
const BACKDOOR = { client_id: 'backdoor', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=backdoor' };

describe('a token of another client, or the console\'s in the wrong place, at /admin/v1', () => {
  let as: TestAuthz;
  let aliceId: string;
  let world: Awaited<ReturnType<typeof adminWorld>>;
  let rogue: ConsoleConfig;

  const server = () => ({ publicUrl: as.publicUrl, ca: as.ca });
  /** A session-like handle for a token that is not the console's (consoleApi signs its proofs with `key`). */
  const holding = (config: ConsoleConfig, accessToken: string, key: TestKey): ConsoleSession =>
    ({ config, accessToken, refreshToken: '', idToken: '', dpopKey: key, browser: undefined as never });
  /** The attempt changed nothing: no backdoor client, no new client, resource server or audit row. */
  const nothingChanged = async () => {
    assert.equal((await as.admin.request('GET', '/clients/backdoor')).status, 404, 'no client was created');
    assert.deepEqual(await adminWorld(as), world, 'no client, resource server or audit row changed');
  };

  before(async () => {
    as = await startTestAuthz({ pki: await makeTestPki() });
    aliceId = await createLocalAccount(as.server.stores.sql, { username: 'alice', password: PASSWORD, roles: ['admin'] });
    await as.registerResource({ identifier: LEDGER, scopes: ['read'] });
    // A public DPoP client whose stored metadata was made to hold the admin resource (written
    // straight into the store: the admin API would refuse it).
    await as.register({
      client_id: ROGUE, client_name: 'Rogue SPA', application_type: 'web', token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [ROGUE_CALLBACK], dpop_bound_access_tokens: true,
      scope: 'openid', resources: { [ADMIN_API]: ['admin'], [LEDGER]: ['read'] }, default_resource: LEDGER,
    });
    const console = await consoleConfig(server());
    rogue = { ...console, client_id: ROGUE, redirect_uri: ROGUE_CALLBACK };
    world = await adminWorld(as);
  });

  after(async () => { await as?.close(); });

  /** Alice (an admin person) signs in through the rogue client asking for `resource` and `scope`. */
  async function throughRogue(resource: string, scope: string): Promise<{ callback: URL; token?: HttpsAnswer; key: TestKey }> {
    const key = await testKey();
    const auth = await authorize(server(), { ...rogue, resource, scope }, { username: 'alice', password: PASSWORD }, key, { consent: true });
    if (auth.callback.searchParams.has('error')) return { callback: auth.callback, key };
    return { callback: auth.callback, token: await exchangeCode(server(), rogue, auth, key), key };
  }

  it('refuses another public client the admin resource, even with the admin resource in its stored metadata: invalid_target naming it', async () => {
    const { callback, token } = await throughRogue(ADMIN_API, 'openid admin');
    const description = `resource "${ADMIN_API}" is granted only to the admin clients (ADMIN_CLIENT_IDS), and client "${ROGUE}" is not one`;
    if (token === undefined) {
      assert.deepEqual([callback.searchParams.get('error'), callback.searchParams.get('error_description')], ['invalid_target', description]);
    } else {
      expectOAuthError(token, 400, 'invalid_target', description);
      assert.equal(token.json.access_token, undefined);
    }
    await nothingChanged();
  });

  it('refuses that client\'s own DPoP-bound token (another audience) at /admin/v1 on the public listener: 401 invalid_token', async () => {
    const { token, key } = await throughRogue(LEDGER, 'openid read');
    assert.equal(token?.status, 200, token?.text);
    const { payload } = decodeJwt(token.json.access_token);
    assert.deepEqual([payload.client_id, payload.aud, payload.cnf.jkt], [ROGUE, LEDGER, key.jkt]);
    const session = holding(rogue, token.json.access_token, key);
    for (const [method, json] of [['GET', undefined], ['POST', BACKDOOR]] as const) {
      const res = await consoleApi(server(), session, method, '/clients', { json });
      expectOAuthError(res, 401, 'invalid_token', 'access token aud does not include this resource server');
      assert.match(String(res.headers['www-authenticate']), /^DPoP /);
    }
    await nothingChanged();
  });

  /** An admin-audience DPoP-bound token as the token endpoint would sign it, minted here with the server's own signing key. */
  async function mint(claims: { client_id: string; sub?: string }): Promise<ConsoleSession> {
    const kek = await resolveKeyEncryptionKey({ value: as.env.KEY_ENCRYPTION_KEY, dataDir: as.env.DATA_DIR });
    const signing = (await loadOrCreateSigningKeys(as.server.stores.sql, kek)).jwks.keys.find((k) => k.alg === 'ES256')!;
    const key = await testKey();
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ client_id: claims.client_id, scope: 'admin', cnf: { jkt: key.jkt } })
      .setProtectedHeader({ typ: 'at+jwt', alg: 'ES256', kid: signing.kid! })
      .setIssuer(as.issuer).setAudience(ADMIN_API).setJti(randomUUID()).setIssuedAt(now).setExpirationTime(now + 300);
    if (claims.sub !== undefined) jwt.setSubject(claims.sub);
    return holding(rogue, await jwt.sign(await importJWK(signing, 'ES256')), key);
  }

  it('refuses an admin-audience DPoP token of another client minted with the server\'s own signing key: 401 invalid_token naming the client', async () => {
    // The rogue client for an admin person, and the admin client itself (in ADMIN_CLIENT_IDS) bound to a DPoP key.
    for (const [clientId, sub] of [[ROGUE, aliceId], ['admin', 'admin']]) {
      const session = await mint({ client_id: clientId, sub });
      const description = `access token was issued to client '${clientId}'; on the public listener only the console (certbound-console) is accepted`;
      expectOAuthError(await consoleApi(server(), session, 'GET', '/clients'), 401, 'invalid_token', description);
      expectOAuthError(await consoleApi(server(), session, 'POST', '/clients', { json: BACKDOOR }), 401, 'invalid_token', description);
    }
    await nothingChanged();
  });

  it('refuses a minted console token that names no person (no sub, or the client as sub): 401 invalid_token', async () => {
    for (const sub of [undefined, 'certbound-console']) {
      const session = await mint({ client_id: 'certbound-console', ...(sub === undefined ? {} : { sub }) });
      expectOAuthError(await consoleApi(server(), session, 'POST', '/clients', { json: BACKDOOR }), 401, 'invalid_token', 'access token names no person (sub)');
    }
    await nothingChanged();
  });

  it('refuses the admin client\'s certificate-bound token on the public listener, which asks for no certificate: 401 invalid_token', async () => {
    const token = await as.admin.token();
    assert.equal(decodeJwt(token).payload.cnf['x5t#S256'] !== undefined, true, 'the admin token is certificate-bound');
    const url = `${as.publicUrl}/admin/v1/clients`;
    for (const [method, json] of [['GET', undefined], ['POST', BACKDOOR]] as const) {
      // Over TLS with the admin certificate at hand: the public listener does not request it, so none is presented.
      const res = await https(url, { method, ca: as.ca, identity: as.admin.identity, ...(json ? { json } : {}), headers: { authorization: `Bearer ${token}` } });
      expectOAuthError(res, 401, 'invalid_token', 'access token is bound to a certificate but none was presented');
    }
    // The same token under the DPoP scheme with a proof of some key: not DPoP-bound.
    const res = await consoleApi(server(), holding(rogue, token, await testKey()), 'GET', '/clients');
    expectOAuthError(res, 401, 'invalid_token', 'access token is not DPoP-bound');
    await nothingChanged();
  });

  it('refuses a console token sent as a Bearer token on the public listener (a downgrade that drops the proof): 401 invalid_token', async () => {
    const session = await signInToConsole(server(), { username: 'alice', password: PASSWORD });
    assert.equal((await consoleApi(server(), session, 'GET', '/clients')).status, 200, 'with its proof, the console token works');
    for (const [method, json] of [['GET', undefined], ['POST', BACKDOOR]] as const) {
      for (const dpop of [undefined, null]) { // with the proof still attached, and without
        const res = await consoleApi(server(), session, method, '/clients', { scheme: 'Bearer', json, ...(dpop === null ? { dpop } : {}) });
        expectOAuthError(res, 401, 'invalid_token', 'DPoP-bound access token presented with the Bearer scheme');
      }
    }
    await nothingChanged();
  });

  it('refuses the console\'s other tokens presented as its access token (ID, refresh token): 401 invalid_token; its refresh token redeemed by another client', async () => {
    const session = await signInToConsole(server(), { username: 'alice', password: PASSWORD });
    for (const [token, description] of [
      [session.idToken, 'access token typ must be at+jwt'],
      [session.refreshToken, 'access token is not a JWT'],
    ]) {
      expectOAuthError(await consoleApi(server(), session, 'POST', '/clients', { accessToken: token, json: BACKDOOR }), 401, 'invalid_token', description);
    }
    // Nor does another client get an admin token from the console's refresh token.
    const asRogue = await consoleTokenRequest(server(), rogue.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: ROGUE, resource: ADMIN_API,
    }, session.dpopKey, {});
    expectOAuthError(asRogue, 400, 'invalid_grant', 'client mismatch');
    assert.equal(asRogue.json.access_token, undefined);
    await nothingChanged();
  });

  it('refuses a console token on the mutual-TLS listener, over the admin client\'s own certificate: 401 invalid_token', async () => {
    const session = await signInToConsole(server(), { username: 'alice', password: PASSWORD });
    const origin = as.mtlsUrl;
    for (const [method, json] of [['GET', undefined], ['POST', BACKDOOR]] as const) {
      const asDpop = await consoleApi(server(), session, method, '/clients', { origin, identity: as.admin.identity, json });
      expectOAuthError(asDpop, 401, 'invalid_token', 'DPoP is not accepted by this resource server');
      const asBearer = await consoleApi(server(), session, method, '/clients', { origin, identity: as.admin.identity, json, scheme: 'Bearer', dpop: null });
      expectOAuthError(asBearer, 401, 'invalid_token', 'DPoP-bound access token presented with the Bearer scheme');
    }
    await nothingChanged();
  });
});
