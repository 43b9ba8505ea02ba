// Attack class: a stolen console token used without the console's key, or with a proof the
// console did not make for this request. The console's access token is DPoP-bound (cnf.jkt) to a
// non-extractable WebCrypto key: whoever copies the token out of sessionStorage (an XSS, a shared
// machine, a log) still needs a fresh proof signed by that key for this method and URL, naming
// this token (ath). So /admin/v1 on the public listener refuses: a proof by another key; a proof
// replayed (same jti), even one that carried a successful change; a proof for another URL or
// method; a proof without ath, or with another token's; and, once the person signed out (the
// console revokes its tokens), the token itself even with a perfect proof. Each refusal is
// 401 with the RFC 9449 error naming the check, and nothing it carried changes a client or the
// audit log.
//
// A real server (test/support/authz.ts: real TLS, embedded storage or PostgreSQL + Redis when
// TEST_DATABASE_URL / TEST_REDIS_URL are set), the real login page and token endpoint.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { dpopProof, testKey } from '../support/dpop.ts';
import { expectOAuthError } from '../support/oauth.ts';
import { adminWorld, consoleApi, consoleTokenRequest, revokeSession, signInToConsole, type ConsoleSession } from '../support/console-session.ts';

const PASSWORD = 'correct horse battery staple';
const client = (id: string) => ({ client_id: id, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: `CN=${id}` });

describe('a console token with a proof the console did not make for this request', () => {
  let as: TestAuthz;
  let session: ConsoleSession;

  const server = () => ({ publicUrl: as.publicUrl, ca: as.ca });
  /** Runs `attempt` and checks it changed nothing: no client named `id`, no other client, resource server or audit row. */
  async function changesNothing(id: string, attempt: () => Promise<void>): Promise<void> {
    const world = await adminWorld(as);
    await attempt();
    assert.equal((await as.admin.request('GET', `/clients/${id}`)).status, 404, `no client ${id} was created`);
    assert.deepEqual(await adminWorld(as), world, 'no client, resource server or audit row changed');
  }

  before(async () => {
    as = await startTestAuthz({ pki: await makeTestPki() });
    await createLocalAccount(as.server.stores.sql, { username: 'alice', password: PASSWORD, roles: ['admin'] });
    session = await signInToConsole(server(), { username: 'alice', password: PASSWORD });
    assert.equal((await consoleApi(server(), session, 'GET', '/clients')).status, 200, 'with its own proof, the console token works');
  });

  after(async () => { await as?.close(); });

  it('refuses a proof signed by another key (the thief\'s): 401 invalid_token naming cnf.jkt; the refresh token with that key gets nothing', async () => {
    const thief = await testKey();
    expectOAuthError(await consoleApi(server(), session, 'GET', '/clients', { key: thief }), 401, 'invalid_token', 'DPoP proof key does not match the access token cnf.jkt');
    await changesNothing('stolen', async () => {
      const res = await consoleApi(server(), session, 'POST', '/clients', { key: thief, json: client('stolen') });
      expectOAuthError(res, 401, 'invalid_token', 'DPoP proof key does not match the access token cnf.jkt');
      assert.match(String(res.headers['www-authenticate']), /^DPoP error="invalid_token", error_description="DPoP proof key does not match the access token cnf\.jkt"/);
    });
    // The stolen refresh token with the thief's key: the refresh token is bound to the console's key too.
    const stolen = await consoleTokenRequest(server(), session.config.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: session.config.client_id,
    }, thief, {});
    expectOAuthError(stolen, 400, 'invalid_grant', 'refresh token is bound to another DPoP key');
    assert.equal(stolen.json.access_token, undefined);
  });

  it('refuses a replayed proof (same jti), even one that carried a change that was made: 401 invalid_dpop_proof', async () => {
    const read = await consoleApi(server(), session, 'GET', '/clients');
    assert.equal(read.status, 200, read.text);
    expectOAuthError(await consoleApi(server(), session, 'GET', '/clients', { dpop: read.proof! }), 401, 'invalid_dpop_proof', 'DPoP proof jti has already been used');

    const created = await consoleApi(server(), session, 'POST', '/clients', { json: client('made-once') });
    assert.equal(created.status, 201, created.text);
    await as.admin.request('DELETE', '/clients/made-once').then((res) => assert.equal(res.status, 204, res.text));
    await changesNothing('made-once', async () => {
      const replay = await consoleApi(server(), session, 'POST', '/clients', { dpop: created.proof!, json: client('made-once') });
      expectOAuthError(replay, 401, 'invalid_dpop_proof', 'DPoP proof jti has already been used');
    });
  });

  it('refuses a token-endpoint proof replayed with the rotated refresh token: 400 invalid_dpop_proof, no new tokens', async () => {
    const mine = await signInToConsole(server(), { username: 'alice', password: PASSWORD });
    const url = mine.config.token_endpoint;
    const refresh = async (refreshToken: string, proof: string) => https(url, {
      ca: as.ca, form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: mine.config.client_id }, headers: { dpop: proof },
    });
    const proof = await dpopProof(mine.dpopKey, { htm: 'POST', htu: url, ...(mine.nonce ? { nonce: mine.nonce } : {}) });
    const first = await refresh(mine.refreshToken, proof);
    assert.equal(first.status, 200, first.text);
    // Whoever saw that request (its proof) and later the new refresh token, without the key.
    const replayed = await refresh(first.json.refresh_token, proof);
    expectOAuthError(replayed, 400, 'invalid_dpop_proof', 'DPoP proof jti has already been used');
    assert.equal(replayed.json.access_token, undefined);
  });

  it('refuses a proof made for another URL, another method or another time: 401 invalid_dpop_proof naming htu, htm or iat', async () => {
    const api = session.config.admin_api;
    await changesNothing('elsewhere', async () => {
      for (const htu of [`${api}/resource-servers`, `${as.mtlsUrl}/admin/v1/clients`, 'https://attacker.example/admin/v1/clients']) {
        expectOAuthError(await consoleApi(server(), session, 'POST', '/clients', { proof: { htu }, json: client('elsewhere') }),
          401, 'invalid_dpop_proof', 'DPoP proof htu does not match the request URL');
      }
      // A proof for reading the list, sent with a write.
      expectOAuthError(await consoleApi(server(), session, 'POST', '/clients', { proof: { htm: 'GET' }, json: client('elsewhere') }),
        401, 'invalid_dpop_proof', 'DPoP proof htm does not match the request method');
      // A proof made an hour ago (a captured one, kept until its jti is forgotten) or for an hour from now.
      for (const iat of [Math.floor(Date.now() / 1000) - 3600, Math.floor(Date.now() / 1000) + 3600]) {
        expectOAuthError(await consoleApi(server(), session, 'POST', '/clients', { proof: { iat }, json: client('elsewhere') }),
          401, 'invalid_dpop_proof', 'DPoP proof iat is outside the acceptable window');
      }
    });
  });

  it('refuses a proof without ath, or with another token\'s: 401 invalid_dpop_proof', async () => {
    await changesNothing('no-ath', async () => {
      expectOAuthError(await consoleApi(server(), session, 'POST', '/clients', { proof: { ath: null }, json: client('no-ath') }),
        401, 'invalid_dpop_proof', 'DPoP proof ath claim is missing');
      // The proof names another token (ath): the admin client's.
      const proof = await dpopProof(session.dpopKey, {
        htm: 'POST', htu: `${session.config.admin_api}/clients`, accessToken: await as.admin.token(), ...(session.nonce ? { nonce: session.nonce } : {}),
      });
      expectOAuthError(await consoleApi(server(), session, 'POST', '/clients', { dpop: proof, json: client('no-ath') }),
        401, 'invalid_dpop_proof', 'DPoP proof ath does not match the access token');
    });
  });

  it('refuses the token after sign-out revoked it, even with a perfect proof; its refresh token gets nothing', async () => {
    const mine = await signInToConsole(server(), { username: 'alice', password: PASSWORD });
    assert.equal((await consoleApi(server(), mine, 'GET', '/clients')).status, 200);
    for (const res of await revokeSession(server(), mine)) assert.equal(res.status, 200, res.text);
    await changesNothing('after-sign-out', async () => {
      expectOAuthError(await consoleApi(server(), mine, 'GET', '/clients'), 401, 'invalid_token', 'access token has been revoked');
      expectOAuthError(await consoleApi(server(), mine, 'POST', '/clients', { json: client('after-sign-out') }), 401, 'invalid_token', 'access token has been revoked');
      const refreshed = await consoleTokenRequest(server(), mine.config.token_endpoint, {
        grant_type: 'refresh_token', refresh_token: mine.refreshToken, client_id: mine.config.client_id,
      }, mine.dpopKey, mine);
      expectOAuthError(refreshed, 400, 'invalid_grant', 'refresh token not found');
      assert.equal(refreshed.json.access_token, undefined);
    });
    assert.equal((await consoleApi(server(), session, 'GET', '/clients')).status, 200, 'another session of the same person is unaffected');
  });

  it('ends the console\'s refresh token when the person confirms sign-out at certbound, even if the console\'s revocations never arrived', async () => {
    // The console's sign-out revokes, then navigates to end_session; a lost revocation request (or
    // a sign-out at certbound from another tab) must not leave the console's refresh token alive.
    const mine = await signInToConsole(server(), { username: 'alice', password: PASSWORD });
    const url = new URL(mine.config.end_session_endpoint);
    url.search = new URLSearchParams({
      id_token_hint: mine.idToken, post_logout_redirect_uri: mine.config.post_logout_redirect_uri, client_id: mine.config.client_id,
    }).toString();
    const page = await mine.browser.request(url.href);
    assert.equal(page.status, 200, page.text.slice(0, 300));
    const confirm = await mine.browser.submit(page, /\/session\/end\/confirm$/, { logout: 'yes' }, (location) => location.href === mine.config.post_logout_redirect_uri);
    assert.equal(confirm.status, 303, confirm.text.slice(0, 300));
    assert.equal(confirm.headers.get('location'), mine.config.post_logout_redirect_uri, 'signed out, back to the console');
    const refreshed = await consoleTokenRequest(server(), mine.config.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: mine.refreshToken, client_id: mine.config.client_id,
    }, mine.dpopKey, mine);
    expectOAuthError(refreshed, 400, 'invalid_grant');
    assert.equal(refreshed.json.access_token, undefined, 'no new access token after the person signed out');
  });
});
