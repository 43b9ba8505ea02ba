// Attack class: a person without the admin role reaches the admin API through the console. The
// console (certbound-console, a public client) is one client for every person, so "only admin
// clients hold the admin resource" no longer decides alone: the account's `admin` role does
// (issue 15). A person without it signs in as the console with PKCE and a DPoP key and asks for
// the admin resource: refused, naming the missing role. A person who held the role when her token
// was issued, and then lost it (or whose account was disabled), keeps an unexpired, validly signed,
// correctly bound token: /admin/v1 re-checks the account on every request and refuses it, her
// refresh token gets no new one, and nothing she sends changes a client or the audit log.
//
// A real server (test/support/authz.ts: real TLS, embedded storage or PostgreSQL + Redis when
// TEST_DATABASE_URL / TEST_REDIS_URL are set), the real login page, the real token endpoint.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { setAccountDisabled, setAccountRoles } from '../../apps/authz-server/src/storage/postgres/accounts.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { testKey } from '../support/dpop.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';
import {
  ADMIN_API, adminWorld, authorize, consoleApi, consoleConfig, consoleTokenRequest, exchangeCode, signInToConsole, submitLogin,
  type ConsoleSession,
} from '../support/console-session.ts';

const PASSWORD = 'correct horse battery staple';
// Usernames of this run: with TEST_REDIS_URL the login throttle's counters (dave's refused sign-in)
// outlive the server, so another run's must not be found.
const RUN = randomBytes(4).toString('hex');
const who = (name: string) => `${name}-${RUN}`;
const BACKDOOR = { client_id: 'backdoor', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=backdoor' };

describe('a person without the admin role at the console', () => {
  let as: TestAuthz;
  const ids: Record<string, string> = {};

  before(async () => {
    as = await startTestAuthz({ pki: await makeTestPki() });
    for (const [username, roles] of [['alice', ['admin']], ['bob', []], ['carol', ['admin']], ['dave', ['admin']], ['erin', ['admin']], ['frank', ['admin']]] as const) {
      ids[username] = await createLocalAccount(as.server.stores.sql, { username: who(username), password: PASSWORD, roles });
    }
  });

  after(async () => { await as?.close(); });

  const server = () => ({ publicUrl: as.publicUrl, ca: as.ca });
  const noRole = (accountId: string) =>
    `resource "${ADMIN_API}" is granted to the console only for people with the admin role, and account "${accountId}" does not have it`;
  // RFC 6750 §3: the description also goes into WWW-Authenticate, so it quotes with '.
  const lostRole = (accountId: string) => `account '${accountId}' does not have the admin role (any more), or is disabled`;
  const refresh = (session: ConsoleSession) => consoleTokenRequest(server(), session.config.token_endpoint, {
    grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: session.config.client_id,
  }, session.dpopKey, session);

  it('the admin person gets a DPoP-bound admin token that works at /admin/v1 (the baseline the refusals are measured against)', async () => {
    const session = await signInToConsole(server(), { username: who('alice'), password: PASSWORD });
    const { payload } = decodeJwt(session.accessToken);
    assert.deepEqual([payload.client_id, payload.sub, payload.aud, payload.scope, payload.cnf.jkt], ['certbound-console', ids.alice, ADMIN_API, 'admin', session.dpopKey.jkt]);
    const res = await consoleApi(server(), session, 'GET', '/clients');
    assert.equal(res.status, 200, res.text);
  });

  /** Bob's sign-in as the console, asking for `ask`: refused with invalid_target naming the role and his account, and no token. */
  async function expectNoAdminResource(ask: { scope: string; resource: string }): Promise<void> {
    const config = { ...await consoleConfig(server()), ...ask };
    const key = await testKey();
    const auth = await authorize(server(), config, { username: who('bob'), password: PASSWORD }, key);
    const error = auth.callback.searchParams.get('error');
    if (error !== null) {
      // Refused at the authorization endpoint: the error redirect the console shows on its sign-in screen.
      assert.equal(auth.callback.origin + auth.callback.pathname, config.redirect_uri);
      assert.deepEqual([error, auth.callback.searchParams.get('error_description'), auth.callback.searchParams.get('code')], ['invalid_target', noRole(ids.bob), null]);
      return;
    }
    const res = await exchangeCode(server(), config, auth, key);
    expectOAuthError(res, 400, 'invalid_target', noRole(ids.bob));
    assert.equal(res.json.access_token, undefined);
    assert.equal(res.json.refresh_token, undefined);
  }

  it('refuses the admin resource to a person without the role: invalid_target naming the role and the account, and no token', async () => {
    await expectNoAdminResource({ scope: 'openid admin', resource: ADMIN_API });
  });

  it('refuses it too when he leaves out the resource (the console\'s default resource is the admin API) or asks for openid only', async () => {
    await expectNoAdminResource({ scope: 'openid admin', resource: '' });
    await expectNoAdminResource({ scope: 'openid', resource: '' });
  });

  it('refuses the token of a person whose role was taken away after it was issued: at /admin/v1, at refresh; nothing changes', async () => {
    const session = await signInToConsole(server(), { username: who('carol'), password: PASSWORD });
    assert.equal((await consoleApi(server(), session, 'GET', '/clients')).status, 200, 'while she has the role, her token works');
    assert.equal(await setAccountRoles(as.server.stores.sql, ids.carol, []), true);
    const world = await adminWorld(as);

    const read = await consoleApi(server(), session, 'GET', '/clients');
    expectOAuthError(read, 403, 'insufficient_scope', lostRole(ids.carol));
    const write = await consoleApi(server(), session, 'POST', '/clients', { json: BACKDOOR });
    expectOAuthError(write, 403, 'insufficient_scope', lostRole(ids.carol));
    expectOAuthError(await refresh(session), 400, 'invalid_target', noRole(ids.carol));

    assert.equal((await as.admin.request('GET', '/clients/backdoor')).status, 404, 'no client was created');
    assert.deepEqual(await adminWorld(as), world, 'no client, resource server or audit row changed');
    // One structured line per refusal (the logger writes through a stream: wait for it, bounded).
    const lines = () => as.logs.filter((l) => l.event === 'admin_refusal' && l.reason === lostRole(ids.carol));
    for (let i = 0; i < 100 && lines().length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(lines().length, 2);
  });

  it('refuses the code of a person whose role was taken away, or whose account was disabled, between sign-in and the code exchange', async () => {
    for (const [name, change] of [
      ['erin', () => setAccountRoles(as.server.stores.sql, ids.erin, [])],
      ['frank', () => setAccountDisabled(as.server.stores.sql, ids.frank, true)],
    ] as const) {
      const config = await consoleConfig(server());
      const key = await testKey();
      const auth = await authorize(server(), config, { username: who(name), password: PASSWORD }, key);
      assert.ok(auth.callback.searchParams.get('code'), `${name} got a code while an admin: ${auth.callback.href}`);
      assert.equal(await change(), true);
      const res = await exchangeCode(server(), config, auth, key);
      if (name === 'erin') expectOAuthError(res, 400, 'invalid_target', noRole(ids.erin));
      else expectOAuthError(res, 400, 'invalid_grant', 'authorization code invalid (referenced account not found)');
      assert.equal(res.json.access_token, undefined);
    }
  });

  it('refuses the token of a disabled account: at /admin/v1, at refresh, and the person cannot sign in again; nothing changes', async () => {
    const session = await signInToConsole(server(), { username: who('dave'), password: PASSWORD });
    assert.equal((await consoleApi(server(), session, 'GET', '/clients')).status, 200, 'while the account is enabled, its token works');
    assert.equal(await setAccountDisabled(as.server.stores.sql, ids.dave, true), true);
    const world = await adminWorld(as);

    expectOAuthError(await consoleApi(server(), session, 'GET', '/clients'), 403, 'insufficient_scope', lostRole(ids.dave));
    expectOAuthError(await consoleApi(server(), session, 'POST', '/clients', { json: BACKDOOR }), 403, 'insufficient_scope', lostRole(ids.dave));
    const refreshed = await refresh(session);
    expectOAuthError(refreshed, 400, 'invalid_grant', 'refresh token invalid (referenced account not found)');
    assert.equal(refreshed.json.access_token, undefined);

    const config = await consoleConfig(server());
    const login = await submitLogin(server(), config, { username: who('dave'), password: PASSWORD }, await testKey());
    assert.equal(login.status, 401, 'the login page does not let a disabled account through');
    assert.match(login.text, /Wrong username or password\./);

    assert.equal((await as.admin.request('GET', '/clients/backdoor')).status, 404, 'no client was created');
    assert.deepEqual(await adminWorld(as), world, 'no client, resource server or audit row changed');
  });
});
