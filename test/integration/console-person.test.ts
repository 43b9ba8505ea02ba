// A person in the console, end to end against a real server: signed in through the code flow
// (PKCE, DPoP), GET /admin/v1/me names her, a change she makes is audited with her sub (and the
// console client), her refresh token lives CONSOLE_IDLE_TIMEOUT and is rotated on use (the idle
// limit), and the mutual-TLS admin client's /me names the client and its certificate.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { consoleApi, consoleTokenRequest, signInToConsole, type ConsoleSession } from '../support/console-session.ts';
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

  it('the mutual-TLS admin client\'s /me names the client and its certificate', async () => {
    const res = await as.admin.request('GET', '/me');
    assert.equal(res.status, 200);
    assert.equal(res.json.client_id, 'admin');
    assert.match(String(res.json['x5t#S256']), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(res.json.sub, undefined);
  });
});
