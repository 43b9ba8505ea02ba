// Attack class: guessing a person's password at the login page (issue 10: "25 wrong guesses in
// 8 s, then the right one works"). Against a REAL server process over real TLS (security-server
// harness, embedded storage or PostgreSQL + Redis when TEST_DATABASE_URL / TEST_REDIS_URL are
// set): after 5 wrong passwords for a username from one address, the 6th attempt — the right
// password too — gets 429 with Retry-After, the page says why, and the server writes one
// structured line; the same username from another address (127.0.0.2: all of 127/8 is loopback
// on Linux) and another username from the same address still sign in.
//
// The hashing flood (503 rather than unbounded memory) is tested at unit level, with real
// N = 2^17 hashes: apps/authz-server/test/accounts/passwords.test.ts "the hashing queue".
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { Redis } from 'ioredis';
import { issueCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { formsOf } from '../support/browser.ts';
import { SECURITY_RESOURCE, startSecurityServer, type SecurityServer } from '../support/security-server.ts';

const PASSWORD = 'correct horse battery staple';
// Usernames of this run: with TEST_REDIS_URL the counters outlive the server (the server uses no
// key prefix), so another run's locks must not be found.
const RUN = randomBytes(4).toString('hex');
const ALICE = `alice-${RUN}`;
const BOB = `bob-${RUN}`;
const CALLBACK = 'https://portal.example/callback';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A browser on one loopback address: its own cookie jar, one fresh TLS connection per request. */
function browserAt(server: SecurityServer, localAddress: string) {
  const cookies = new Map<string, string>();
  function request(url: string, form?: Record<string, string>): Promise<Answer> {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, {
        method: form ? 'POST' : 'GET',
        ca: server.ca,
        localAddress,
        family: 4,
        agent: false,
        timeout: 30_000,
        headers: {
          accept: 'text/html',
          ...(cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
          ...(body ? { 'content-type': 'application/x-www-form-urlencoded', origin: server.publicUrl } : {}),
        },
      }, (res) => {
        for (const line of res.headers['set-cookie'] ?? []) {
          const [pair] = line.split(';');
          const eq = pair.indexOf('=');
          const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
          if (!value || /expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(name);
          else cookies.set(name, value);
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
      req.on('error', reject);
      req.end(body);
    });
  }
  return {
    /** A new authorization request, followed to its login page. */
    async loginPage(): Promise<{ url: string; csrf: string }> {
      const verifier = randomBytes(32).toString('base64url');
      const auth = new URL('/auth', server.publicUrl);
      auth.search = new URLSearchParams({
        client_id: 'portal', response_type: 'code', redirect_uri: CALLBACK, scope: 'read', state: randomBytes(8).toString('hex'),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
      }).toString();
      let page = await request(auth.href);
      let url = auth.href;
      for (let hops = 0; page.status === 303 || page.status === 302; hops++) {
        assert.ok(hops < 5, 'too many redirects');
        url = new URL(String(page.headers.location), url).href;
        page = await request(url);
      }
      assert.equal(page.status, 200, page.text.slice(0, 500));
      const form = formsOf(page.text).find((f) => f.action.endsWith('/login'));
      assert.ok(form, `no login form on ${url}`);
      return { url: new URL(form.action, url).href, csrf: form.fields.csrf };
    },
    async signIn(login: { url: string; csrf: string }, username: string, password: string): Promise<Answer> {
      return request(login.url, { csrf: login.csrf, username, password });
    },
  };
}

describe('login brute force: 5 failures per username and address, then 429 with Retry-After (issue 10)', () => {
  let server: SecurityServer;

  before(async () => {
    server = await startSecurityServer({ accounts: [{ username: ALICE, password: PASSWORD }, { username: BOB, password: PASSWORD }] });
    await server.registerResourceServer({ identifier: SECURITY_RESOURCE, scopes: ['read'], sender_constraint_required: true });
    const portal = await issueCertificate({ subject: 'CN=portal,O=certbound tests', issuer: server.pki.clientRoot, days: 2 });
    await server.registerClient({
      client_id: 'portal', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: portal.subject,
      grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [CALLBACK], default_resource: SECURITY_RESOURCE, scope: 'read',
    });
  });

  after(async () => {
    await server?.stop();
    if (server?.env.REDIS_URL) {
      // This run's failures from the loopback addresses, counted against the per-address cap.
      const redis = new Redis(server.env.REDIS_URL);
      await redis.del('rl:login-address:127.0.0.1', 'rl:login-address:127.0.0.2');
      await redis.quit();
    }
  });

  it('refuses the 6th attempt, with the right password, after 5 wrong ones: 429, Retry-After, a page that says so, one log line', async () => {
    const browser = browserAt(server, '127.0.0.1');
    const login = await browser.loginPage();
    for (let i = 1; i <= 5; i++) {
      const wrong = await browser.signIn(login, ALICE, `guess number ${i}`);
      assert.equal(wrong.status, 401, `guess ${i}: ${wrong.text.slice(0, 300)}`);
      assert.match(wrong.text, /Wrong username or password/);
    }
    // Only this interaction's lines count: the other tests of this file run at the same time. Its
    // five refusals travel through the child's stdout pipe: let them arrive before counting on.
    const uid = /\/interaction\/([^/]+)\/login$/.exec(new URL(login.url).pathname)?.[1];
    assert.ok(uid, login.url);
    const refusedHere = () => server.logs().filter((l) => l.event === 'login_refused' && l.interaction === uid).length;
    for (let i = 0; i < 50 && refusedHere() < 5; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(refusedHere(), 5, 'five refused guesses logged');
    const logsBefore = server.logs().length;
    const sixth = await browser.signIn(login, ALICE, PASSWORD);
    assert.equal(sixth.status, 429, sixth.text.slice(0, 500));
    const retryAfter = Number(sixth.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After: ${String(sixth.headers['retry-after'])}`);
    assert.match(sixth.headers['content-type'] as string, /^text\/html/);
    assert.match(sixth.text, /Too many failed sign-in attempts\. Sign-in is paused: try again in \d+ seconds?\./);
    assert.match(sixth.text, /<form method="post" action="\/interaction\/[^"]+\/login"/, 'the page still offers the form');

    // The log line travels through the child's stdout pipe; it may arrive just after the answer.
    const lines = () => server.logs().slice(logsBefore).filter((l) => l.event === 'login_throttled');
    for (let i = 0; i < 50 && lines().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(lines().length, 1, 'one structured line for the throttled attempt');
    const line = lines()[0];
    assert.equal(line.rule, 'account_and_address');
    assert.equal(line.retry_after, retryAfter);
    assert.equal(line.client_id, 'portal');
    assert.equal(line.address, '127.0.0.1');
    const raw = JSON.stringify(line);
    assert.ok(!raw.includes(ALICE), 'no username in the line');
    assert.ok(!raw.includes(PASSWORD), 'no password in the line');
    assert.equal(server.logs().slice(logsBefore).filter((l) => (l.event === 'login' || l.event === 'login_refused') && l.interaction === uid).length, 0, 'the password was not checked');

    const seventh = await browser.signIn(login, ALICE, PASSWORD);
    assert.equal(seventh.status, 429, 'still paused');
  });

  it('still lets the same username sign in from another address (127.0.0.2)', async () => {
    const elsewhere = browserAt(server, '127.0.0.2');
    const answer = await elsewhere.signIn(await elsewhere.loginPage(), ALICE, PASSWORD);
    assert.equal(answer.status, 303, answer.text.slice(0, 500));
    assert.match(String(answer.headers.location), /\/auth\//, 'back to the authorization endpoint, signed in');
  });

  it('still lets another username sign in from the throttled address', async () => {
    const browser = browserAt(server, '127.0.0.1');
    const answer = await browser.signIn(await browser.loginPage(), BOB, PASSWORD);
    assert.equal(answer.status, 303, answer.text.slice(0, 500));
  });

  it('counts a username that does not exist the same way (the refusal says nothing about who exists)', async () => {
    const browser = browserAt(server, '127.0.0.1');
    const login = await browser.loginPage();
    for (let i = 1; i <= 5; i++) assert.equal((await browser.signIn(login, `nobody-${RUN}`, `guess ${i}`)).status, 401);
    const sixth = await browser.signIn(login, `nobody-${RUN}`, PASSWORD);
    assert.equal(sixth.status, 429);
    assert.match(sixth.text, /Too many failed sign-in attempts/);
  });
});
