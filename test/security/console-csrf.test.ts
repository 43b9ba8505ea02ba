// Attack class: cross-site request forgery and clickjacking against the console. A page on
// another site cannot read the console's sessionStorage, but it can make the person's browser
// send requests with certbound's cookies (the sign-in session) and submit forms, or frame the
// console and trick clicks. The console is CSRF-safe by construction: /admin/v1 reads its
// credentials only from the Authorization and DPoP headers, which a cross-site form cannot set and
// a cross-site script may not send without a CORS preflight certbound never grants; cookies
// authorize nothing there; a token in the query string or a form body (RFC 6750 §2.2, §2.3) is not
// read (nor written to a log). A forged sign-out confirmation lacks the page's xsrf token. The
// console's pages, the login page it signs in on and the sign-out confirmation page it sends the
// person to forbid framing (a framed "Sign in" or "Yes, sign me out" can be clickjacked), and the
// console's pages forbid inline script (CSP). Every forged attempt is refused and changes nothing.
//
// A real server (test/support/authz.ts: real TLS, embedded storage or PostgreSQL + Redis when
// TEST_DATABASE_URL / TEST_REDIS_URL are set), a real sign-in whose cookies the forgeries carry.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https, type HttpsAnswer } from '../support/https.ts';
import { expectOAuthError } from '../support/oauth.ts';
import { HeadlessBrowser, formsOf } from '../support/browser.ts';
import {
  adminWorld, apiProof, consoleApi, consoleTokenRequest, cookiesOf, signInToConsole, type ConsoleSession,
} from '../support/console-session.ts';

const PASSWORD = 'correct horse battery staple';
const EVIL = 'https://evil.example';
const FORGED = { client_id: 'csrf-backdoor', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=csrf-backdoor' };
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'";

describe('forged cross-site requests and framing against the console', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let session: ConsoleSession;
  let cookies: string;
  let clients: string;
  let world: Awaited<ReturnType<typeof adminWorld>>;

  /** No CORS grant of any kind reached the other site. */
  const noCors = (res: HttpsAnswer) => {
    for (const header of ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-headers', 'access-control-allow-methods']) {
      assert.equal(res.headers[header], undefined, `${header}: ${String(res.headers[header])}`);
    }
  };
  const nothingChanged = async () => {
    assert.equal((await as.admin.request('GET', `/clients/${FORGED.client_id}`)).status, 404, 'no client was created');
    assert.deepEqual(await adminWorld(as), world, 'no client, resource server or audit row changed');
  };

  before(async () => {
    pki = await makeTestPki();
    as = await startTestAuthz({ pki });
    await createLocalAccount(as.server.stores.sql, { username: 'alice', password: PASSWORD, roles: ['admin'] });
    session = await signInToConsole({ publicUrl: as.publicUrl, ca: as.ca }, { username: 'alice', password: PASSWORD });
    cookies = await cookiesOf(session.browser, pki.server);
    assert.match(cookies, /_session=/, 'the sign-in left certbound\'s session cookie in the browser');
    assert.equal((await consoleApi({ publicUrl: as.publicUrl, ca: as.ca }, session, 'GET', '/clients')).status, 200, 'the console itself gets in');
    clients = `${session.config.admin_api}/clients`;
    world = await adminWorld(as);
  });

  after(async () => { await as?.close(); });

  it('refuses a cross-site form POST carrying the session cookies: 401, no CORS grant, nothing created', async () => {
    const refusals = () => as.logs.filter((l) => l.event === 'admin_refusal' && l.reason === 'no access token presented').length;
    const before = refusals();
    // What <form method=post action=".../admin/v1/clients"> on evil.example sends, urlencoded and text/plain (JSON-looking).
    const urlencoded = await https(clients, { ca: as.ca, form: FORGED, headers: { cookie: cookies, origin: EVIL, referer: `${EVIL}/` } });
    const textPlain = await https(clients, {
      ca: as.ca, body: `${JSON.stringify(FORGED).slice(0, -1)},"x":"="}`, headers: { 'content-type': 'text/plain', cookie: cookies, origin: EVIL },
    });
    for (const res of [urlencoded, textPlain]) {
      expectOAuthError(res, 401, 'invalid_token', 'no access token presented');
      assert.match(String(res.headers['www-authenticate']), /DPoP/, 'the challenge names the scheme the API wants');
      noCors(res);
    }
    // One structured line per refusal (the logger writes through a stream: wait for it, bounded).
    for (let i = 0; i < 100 && refusals() < before + 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(refusals(), before + 2);
    await nothingChanged();
  });

  it('gives a CORS preflight from another site no grant (no Access-Control-Allow-Origin), for reads and writes', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await https(clients, {
        method: 'OPTIONS', ca: as.ca,
        headers: { origin: EVIL, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,dpop,content-type', cookie: cookies },
      });
      // The API has no OPTIONS route: the preflight fails, so the browser never sends the request.
      expectOAuthError(res, 405, 'method_not_allowed', 'OPTIONS is not allowed on /clients; allowed: GET, POST');
      noCors(res);
    }
    await nothingChanged();
  });

  it('refuses a GET with the session cookies alone (no Authorization): 401, and shows the other site nothing', async () => {
    for (const headers of [{ cookie: cookies }, { cookie: cookies, origin: EVIL }] as Array<Record<string, string>>) {
      const res = await https(clients, { ca: as.ca, headers });
      expectOAuthError(res, 401, 'invalid_token', 'no access token presented');
      assert.equal(res.json.items, undefined, 'no client list in the answer');
      noCors(res);
    }
  });

  it('does not read a token from the query string or a form body (RFC 6750 §2.2, §2.3), and does not log it', async () => {
    const proof = await apiProof(session, 'GET', clients);
    const inQuery = await https(`${clients}?access_token=${encodeURIComponent(session.accessToken)}`, { ca: as.ca, headers: { dpop: proof, cookie: cookies } });
    expectOAuthError(inQuery, 401, 'invalid_token', 'no access token presented');
    assert.equal(inQuery.json.items, undefined, 'no client list in the answer');
    const inBody = await https(clients, {
      ca: as.ca, form: { ...FORGED, access_token: session.accessToken }, headers: { dpop: await apiProof(session, 'POST', clients), cookie: cookies, origin: EVIL },
    });
    expectOAuthError(inBody, 401, 'invalid_token', 'no access token presented');
    await nothingChanged();
    const leaked = as.logs.filter((line) => JSON.stringify(line).includes(session.accessToken));
    assert.deepEqual(leaked, [], 'no log line holds the access token');
  });

  /** A second sign-in of alice (its own browser and cookies), and the sign-out URL the console navigates to. */
  async function secondSession(): Promise<{ mine: ConsoleSession; cookies: string; endSession: string }> {
    const mine = await signInToConsole({ publicUrl: as.publicUrl, ca: as.ca }, { username: 'alice', password: PASSWORD });
    const url = new URL(mine.config.end_session_endpoint);
    url.search = new URLSearchParams({
      id_token_hint: mine.idToken, post_logout_redirect_uri: mine.config.post_logout_redirect_uri, client_id: mine.config.client_id,
    }).toString();
    return { mine, cookies: await cookiesOf(mine.browser, pki.server), endSession: url.href };
  }

  it('refuses a forged sign-out confirmation from another site (no xsrf token): 400, and the session goes on', async () => {
    const { mine, cookies: theirs, endSession } = await secondSession();
    const page = await https(endSession, { ca: as.ca, headers: { cookie: theirs, accept: 'text/html' } });
    assert.equal(page.status, 200, 'a cross-site link to the sign-out URL only shows the confirmation page');
    const confirm = formsOf(page.text).find((f) => f.action.endsWith('/session/end/confirm'));
    assert.ok(confirm?.fields.xsrf, 'the confirmation form carries an xsrf token');
    const forged = await https(confirm.action, { ca: as.ca, form: { logout: 'yes' }, headers: { cookie: theirs, origin: EVIL, referer: `${EVIL}/` } });
    expectOAuthError(forged, 400, 'invalid_request', 'xsrf token invalid');
    noCors(forged);
    // Signed in still: the login session's cookie lets the console's refresh token go on working.
    const refreshed = await consoleTokenRequest({ publicUrl: as.publicUrl, ca: as.ca }, mine.config.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: mine.refreshToken, client_id: mine.config.client_id,
    }, mine.dpopKey, mine);
    assert.equal(refreshed.status, 200, refreshed.text);
  });

  it('forbids framing the pages of the console\'s sign-in and sign-out (clickjacking the login form or "Yes, sign me out")', async () => {
    const { cookies: theirs, endSession } = await secondSession();
    const login = new HeadlessBrowser(as.ca);
    const url = new URL(session.config.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: session.config.client_id, redirect_uri: session.config.redirect_uri, scope: session.config.scope,
      resource: session.config.resource, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 'framed',
    }).toString();
    const loginPage = await login.navigate(url.href);
    assert.equal(loginPage.status, 200, loginPage.text.slice(0, 300));
    const signOutPage = await https(endSession, { ca: as.ca, headers: { cookie: theirs, accept: 'text/html' } });
    assert.equal(signOutPage.status, 200, signOutPage.text.slice(0, 300));
    assert.match(signOutPage.text, /Yes, sign me out/);
    for (const [name, headers] of [['login page', Object.fromEntries(loginPage.headers)], ['sign-out confirmation page', signOutPage.headers]] as const) {
      assert.equal(headers['x-frame-options'], 'DENY', `${name}: X-Frame-Options`);
      assert.match(String(headers['content-security-policy']), /frame-ancestors 'none'/, `${name}: Content-Security-Policy frame-ancestors`);
    }
  });

  it('answers every console page with the CSP (no inline script, frame-ancestors \'none\'), X-Frame-Options DENY and the other headers', async () => {
    const pages = ['/console/', '/console/callback', '/console/config.json', '/console'];
    const index = await https(`${as.publicUrl}/console/`, { ca: as.ca, headers: { accept: 'text/html' } });
    const assets = [...index.text.matchAll(/(?:src|href)="(\/console\/assets\/[a-z0-9-]+\.(?:js|css|svg|png|ico))"/g)].map((m) => m[1]);
    assert.ok(assets.length > 0, `the console page loads its script from /console/assets/: ${index.text.slice(0, 500)}`);
    for (const path of [...pages, ...assets, '/console/assets/no-such-file.js']) {
      const res = await https(`${as.publicUrl}${path}`, { ca: as.ca, headers: { accept: 'text/html', origin: EVIL } });
      assert.ok([200, 301, 404].includes(res.status), `${path}: ${res.status}`);
      assert.equal(res.headers['content-security-policy'], CSP, `${path}: Content-Security-Policy`);
      assert.equal(res.headers['x-frame-options'], 'DENY', `${path}: X-Frame-Options`);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', `${path}: X-Content-Type-Options`);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', `${path}: Referrer-Policy`);
      assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', `${path}: Cross-Origin-Opener-Policy`);
      noCors(res);
    }
    assert.match(String((await https(`${as.publicUrl}/console`, { ca: as.ca })).headers.location), /^(https:\/\/localhost:\d+)?\/console\/$/);
    // The CSP would block inline code; none is there to need it.
    for (const html of [index.text, (await https(`${as.publicUrl}/console/callback`, { ca: as.ca, headers: { accept: 'text/html' } })).text]) {
      assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/i, 'no inline <script>');
      assert.doesNotMatch(html, /<style\b/i, 'no <style> element');
      assert.doesNotMatch(html, /\sstyle\s*=/i, 'no style= attribute');
      assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no on*= handler');
      assert.doesNotMatch(html, /javascript:/i, 'no javascript: URL');
    }
  });
});
