// A person in the console, end to end against a real server: signed in through the code flow
// (PKCE, DPoP), GET /admin/v1/me names her, a change she makes is audited with her sub (and the
// console client), her refresh token lives CONSOLE_IDLE_TIMEOUT and is rotated on use (the idle
// limit), and the mutual-TLS admin client's /me names the client and its certificate.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { authorize, consoleApi, consoleConfig, consoleTokenRequest, signInToConsole, type ConsoleSession } from '../support/console-session.ts';
import { testKey } from '../support/dpop.ts';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from '../support/oauth.ts';

describe('a person in the console', () => {
  let as: TestAuthz;
  let session: ConsoleSession;
  let sub: string;
  before(async () => {
    as = await startTestAuthz({ pki: await makeTestPki(), env: { CONSOLE_IDLE_TIMEOUT: '120' } });
    sub = await createLocalAccount(as.server.stores.sql, { username: 'dana', password: 'dana password', claims: { name: 'Dana Ops' }, roles: ['admin'] });
    session = await signInToConsole(as, { username: 'dana', password: 'dana password' });
  });
  after(() => as?.close());

  it('GET /me names her: sub, username, name, roles, the console client', async () => {
    const res = await consoleApi(as, session, 'GET', '/me');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { client_id: 'certbound-console', sub, username: 'dana', name: 'Dana Ops', roles: ['admin'] });
  });

  it('a change she makes is audited under her sub and the console client', async () => {
    const created = await consoleApi(as, session, 'POST', '/resource-servers', {
      json: { identifier: 'https://ledger.example', scopes: ['ledger:read'] },
    });
    assert.equal(created.status, 201, created.text);
    const audit = await as.admin.request('GET', `/audit?target=${encodeURIComponent('resource-servers/https://ledger.example')}`);
    assert.equal(audit.status, 200);
    assert.deepEqual(audit.json.items[0].actor, { client_id: 'certbound-console', 'x5t#S256': null, sub });
    const byActor = await as.admin.request('GET', `/audit?actor=${sub}`);
    assert.deepEqual(byActor.json.items.map((row) => row.action), ['resource_server.create']);
  });

  it('her refresh token expires after CONSOLE_IDLE_TIMEOUT and rotation gives a new one as long', async () => {
    const claims = decodeJwt(session.accessToken).payload;
    assert.equal(claims.client_id, 'certbound-console');
    assert.equal(Number(claims.exp) - Number(claims.iat), 300, 'a console access token lives 5 minutes at most (ACCESS_TOKEN_TTL is 600)');
    const state: { nonce?: string } = { ...(session.nonce ? { nonce: session.nonce } : {}) };
    const refreshed = await consoleTokenRequest(as, session.config.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: 'certbound-console',
    }, session.dpopKey, state);
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.notEqual(refreshed.json.refresh_token, session.refreshToken, 'rotated');
    const stored = await as.server.stores.adapterFactory('RefreshToken').find(String(refreshed.json.refresh_token)) as { exp?: number; iat?: number } | undefined;
    assert.ok(stored?.exp !== undefined && stored.iat !== undefined, 'the rotated refresh token is stored');
    assert.equal(stored.exp - stored.iat, 120);
    const reused = await consoleTokenRequest(as, session.config.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: 'certbound-console',
    }, session.dpopKey, state);
    assert.equal(reused.status, 400);
    assert.equal(reused.json.error, 'invalid_grant');
  });

  it('a person refused for lacking the role can sign in as another at once: prompt=login asks again instead of refusing the old session', async () => {
    await createLocalAccount(as.server.stores.sql, { username: 'erin', password: 'erin password' });
    const config = await consoleConfig(as);
    const key = await testKey();
    const refused = await authorize(as, config, { username: 'erin', password: 'erin password' }, key);
    assert.equal(refused.callback.searchParams.get('error'), 'invalid_target');
    // The same browser (erin's certbound session) starts again with prompt=login, as the console's sign-in does.
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(config.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: config.client_id, redirect_uri: config.redirect_uri, scope: config.scope, resource: config.resource, prompt: 'login',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', state: 's', dpop_jkt: key.jkt,
    }).toString();
    const atCallback = (location: URL) => location.href.startsWith(config.redirect_uri);
    const login = await refused.browser.navigate(url.href, {}, atCallback);
    assert.equal(login.status, 200, `the login page again, not the refusal: ${login.status} ${login.headers.get('location') ?? ''}`);
    let done = await refused.browser.submit(login, /\/login$/, { username: 'dana', password: 'dana password' }, atCallback);
    // Another person over an existing session: oidc-provider ends erin's session first (a form a
    // browser submits by itself), then resumes for dana.
    if (done.status === 200 && /session\/end\/confirm/.test(done.text)) done = await refused.browser.submit(done, /\/session\/end\/confirm$/, {}, atCallback);
    const callback = new URL(done.headers.get('location')!, done.url);
    assert.equal(callback.searchParams.get('error'), null, `${done.status} ${callback.href} ${done.text.slice(0, 300)}`);
    assert.ok(callback.searchParams.get('code'), `dana, an admin, gets a code: ${done.status} ${done.url}`);
  });

  it('the mutual-TLS admin client\'s /me names the client and its certificate', async () => {
    const res = await as.admin.request('GET', '/me');
    assert.equal(res.status, 200);
    assert.equal(res.json.client_id, 'admin');
    assert.match(String(res.json['x5t#S256']), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(res.json.sub, undefined);
  });
});
