// The admin console in a real browser (issue 15): Debian's chromium driven by playwright-core
// against the server as `npm start` runs it (dev bootstrap, embedded stores, or the shared
// PostgreSQL and Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set). The dev admin alice signs
// in through certbound's own login page, finds demo-client's certificate on the timeline, creates
// a client (a bad value first: the API's message next to its field), uploads a certificate made
// now, sees it with the right expiry, retires it and finds both changes in the audit log under
// her sub; an edit races a change made through the API (ETag: the conflict message); bob, who has
// no admin role, is refused on the sign-in screen; sign-out revokes the tokens. Every page is
// photographed at 1280×800: into docs/console-<page>.png with CONSOLE_SCREENSHOTS=1 (how the
// README's pictures are made), else into a temporary directory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { browserSkip, cspViolations, launchChromium, newConsolePage, signIn, type ConsolePage } from '../support/chromium.ts';
import { freePort, https, type HttpsAnswer } from '../support/https.ts';
import { ensureDevPki, issueCertificate, loadIssued, x5tS256, type DevPki } from '../support/pki.ts';
import { repoRoot, startProcess, type RunningProcess } from '../support/processes.ts';
import { decodeJwt } from '../support/oauth.ts';
import { openStores } from '../../apps/authz-server/src/storage/index.ts';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';

const SHOTS = process.env.CONSOLE_SCREENSHOTS === '1';
/** The client the test creates through the console. */
const PARTNER = 'partner-one';
const PARTNER_DN = 'CN=partner-one,O=Partner One';

interface ConsoleServer {
  dir: string;
  pki: DevPki;
  ca: string;
  publicUrl: string;
  mtlsUrl: string;
  alice: { username: string; password: string };
  bob: { username: string; password: string };
  proc: RunningProcess;
  close(): Promise<void>;
}

/**
 * `npm start` in an empty directory (the dev PKI made first, so the test holds its CA, and bob, a
 * person without the admin role, written into the database the server opens), ready once it has
 * printed the quick start.
 */
async function startConsoleServer(): Promise<ConsoleServer> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-console-'));
  let proc: RunningProcess | undefined;
  const close = async () => {
    await proc?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const dataDir = join(dir, '.data');
    const pki = await ensureDevPki(dataDir);
    const [publicPort, mtlsPort] = [await freePort(), await freePort()];
    const database = process.env.TEST_DATABASE_URL;
    const redis = process.env.TEST_REDIS_URL;
    const schema = `console_${randomBytes(6).toString('hex')}`;
    const env: Record<string, string> = {
      PUBLIC_PORT: String(publicPort),
      MTLS_PORT: String(mtlsPort),
      LOG_LEVEL: 'info',
      // A shared database needs a key-encryption key set by the operator (not one generated into DATA_DIR).
      ...(database ? { DATABASE_URL: database, DATABASE_SCHEMA: schema, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } : {}),
      ...(redis ? { REDIS_URL: redis } : {}),
    };
    const bob = { username: 'bob', password: randomBytes(12).toString('base64url') };
    const stores = await openStores({ dataDir, ...(database ? { databaseUrl: database, schema } : {}) });
    try {
      await createLocalAccount(stores.sql, { ...bob, claims: { name: 'Bob Example' }, roles: [] });
    } finally {
      await stores.close();
    }
    proc = await startProcess('apps/authz-server/src/main.ts', env, { ready: /curl --cacert[\s\S]*\/token/, cwd: dir });
    const alice = JSON.parse(await readFile(join(dataDir, 'dev-user.json'), 'utf8')) as { username: string; password: string };
    return {
      dir, pki, ca: await readFile(pki.caFile, 'utf8'), publicUrl: `https://localhost:${publicPort}`, mtlsUrl: `https://localhost:${mtlsPort}`,
      alice, bob, proc, close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `promise`, or a failure naming `what` after `ms` (a liveness bound, not a speed claim). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The console's tokens as it keeps them in sessionStorage. */
interface StoredTokens { access_token: string; refresh_token?: string; id_token?: string }

async function storedTokens(page: Page): Promise<StoredTokens | undefined> {
  const raw = await page.evaluate(() => sessionStorage.getItem('certbound-console:tokens'));
  return raw === null ? undefined : JSON.parse(raw) as StoredTokens;
}

describe('the admin console in a real browser', { skip: browserSkip() }, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let alice: ConsolePage;
  let page: Page;
  let shotDir: string;
  /** the partner certificate uploaded through the console */
  let partnerPem: string;
  let partnerX5t: string;
  let aliceSub: string;

  /** A screenshot from the top of the page, or from the element with data-testid `from` (what the page is for, when it is below the fold). */
  const shoot = async (target: Page, name: string, from?: string) => {
    await target.evaluate(from ? `document.querySelector('[data-testid="${from}"]').scrollIntoView({ block: 'start' })` : 'window.scrollTo(0, 0)');
    await target.screenshot({ path: join(shotDir, `console-${name}.png`), animations: 'disabled', caret: 'hide' });
  };
  const go = async (testId: string, ready: string) => {
    await page.getByTestId(testId).click();
    await page.getByTestId(ready).first().waitFor().catch(async (err: unknown) => {
      // Say what the page shows instead (an error message, an empty state), not only that the hook never came.
      throw new Error(`${ready} did not appear after ${testId}; the page says:\n${(await page.locator('main').innerText()).slice(0, 1500)}`, { cause: err });
    });
  };

  /** The mutual-TLS admin API as the dev admin client (admin.pem), for changes made "by someone else". */
  const adminApi = async (method: string, path: string, options: { json?: unknown; headers?: Record<string, string> } = {}): Promise<HttpsAnswer> => {
    const identity = { cert: await readFile(server.pki.adminCertFile, 'utf8'), key: await readFile(server.pki.adminKeyFile, 'utf8') };
    const token = await https(`${server.mtlsUrl}/token`, { ca: server.ca, identity, form: { grant_type: 'client_credentials', client_id: 'admin', scope: 'admin' } });
    assert.equal(token.status, 200, `admin token: ${token.text}`);
    return https(`${server.mtlsUrl}/admin/v1${path}`, {
      method, ca: server.ca, identity, ...(options.json === undefined ? {} : { json: options.json }),
      headers: { authorization: `Bearer ${token.json.access_token}`, ...options.headers },
    });
  };

  before(async () => {
    shotDir = SHOTS ? join(repoRoot, 'docs') : await mkdtemp(join(tmpdir(), 'certbound-console-shots-'));
    await mkdir(shotDir, { recursive: true });
    server = await startConsoleServer();
    browser = await launchChromium({ trust: [await readFile(server.pki.serverCertFile, 'utf8')] });
    alice = await newConsolePage(browser);
    page = alice.page;
    // A partner certificate from the dev CA (the client CA of `npm start`), valid for 45 days from now.
    const ca = await loadIssued(await readFile(server.pki.caFile, 'utf8'), await readFile(server.pki.caKeyFile, 'utf8'));
    const partner = await issueCertificate({ subject: PARTNER_DN, issuer: ca, days: 45 });
    partnerPem = partner.certPem;
    partnerX5t = x5tS256(partner.cert);
    // Two refusals for the overview's chart: demo-client presenting the admin certificate (subject mismatch) and no certificate at all.
    const adminIdentity = { cert: await readFile(server.pki.adminCertFile, 'utf8'), key: await readFile(server.pki.adminKeyFile, 'utf8') };
    for (const identity of [adminIdentity, undefined]) {
      const refused = await https(`${server.mtlsUrl}/token`, { ca: server.ca, ...(identity ? { identity } : {}), form: { grant_type: 'client_credentials', client_id: 'demo-client' } });
      assert.equal(refused.status, 401, refused.text);
    }
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (!SHOTS && shotDir) await rm(shotDir, { recursive: true, force: true });
  });

  it('serves the sign-in screen with the CSP and no inline code', async () => {
    const res = await page.goto(`${server.publicUrl}/console/`);
    assert.equal(res?.status(), 200);
    const csp = res.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.getByTestId('signin').waitFor();
    await shoot(page, 'sign-in');
  });

  it('signs alice in through the login page; the overview shows the counts', async () => {
    await signIn(page, server.alice);
    await page.getByTestId('signout').waitFor();
    await page.getByTestId('overview-counts').waitFor();
    const tokens = await storedTokens(page);
    assert.ok(tokens?.access_token && tokens.id_token, 'tokens in sessionStorage');
    aliceSub = String(decodeJwt(tokens.id_token).payload.sub);
    assert.ok(aliceSub, 'the ID token names alice');
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
    for (const cookie of await alice.context.cookies()) {
      assert.ok(!cookie.value.includes(tokens.access_token) && !(tokens.refresh_token && cookie.value.includes(tokens.refresh_token)), `cookie ${cookie.name} holds no token`);
    }
    await shoot(page, 'overview');
  });

  it('shows demo-client\'s certificate on the timeline with its expiry', async () => {
    await go('nav-certificates', 'certificate-timeline');
    const demo = new X509Certificate(await readFile(server.pki.demoClientCertFile, 'utf8'));
    const row = page.locator(`[data-testid="certificate-row"][data-x5t="${x5tS256(demo)}"]`);
    await row.waitFor();
    assert.equal(Date.parse(await row.getAttribute('data-not-after') ?? ''), demo.validToDate.getTime(), 'data-not-after is the certificate\'s notAfter');
    assert.match(await row.innerText(), new RegExp(demo.validToDate.toISOString().slice(0, 10)), 'the expiry date is shown');
    assert.match(await row.innerText(), /demo-client/);
  });

  it('shows the API\'s validation message next to the field, then creates the client', async () => {
    await go('nav-clients', 'client-table');
    await shoot(page, 'clients');
    await go('client-new', 'client-form');
    await shoot(page, 'new-client');
    const form = page.getByTestId('client-form');
    await form.locator('[name="client_id"]').fill('partner one');
    await form.locator('[name="tls_client_auth_subject_dn"]').fill(PARTNER_DN);
    await form.locator('[name="client_name"]').fill('Partner One');
    await page.getByTestId('client-save').click();
    const error = page.getByTestId('field-error-client_id');
    await error.waitFor();
    assert.equal(await error.innerText(), 'must be 1 to 255 visible ASCII characters (no spaces)');
    // Next to its field: in the same field wrapper, named by the input's aria-describedby, input marked invalid.
    const input = form.locator('[name="client_id"]');
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
    assert.ok((await input.getAttribute('aria-describedby'))?.split(' ').includes(await error.getAttribute('id') ?? '-'), 'aria-describedby names the error');
    assert.equal(await form.locator('[data-field="client_id"] [data-testid="field-error-client_id"]').count(), 1);

    await input.fill(PARTNER);
    await page.getByTestId('client-save').click();
    await page.waitForURL(new RegExp(`#/clients/${PARTNER}$`));
    await page.getByRole('heading', { level: 1, name: 'Partner One' }).waitFor();
    const stored = await adminApi('GET', `/clients/${PARTNER}`);
    assert.equal(stored.status, 200);
    assert.equal(stored.json.tls_client_auth_subject_dn, PARTNER_DN);
  });

  it('uploads a certificate made now; it is on the timeline with its expiry', async () => {
    await page.getByTestId('certificate-file').setInputFiles({ name: `${PARTNER}.pem`, mimeType: 'application/x-pem-file', buffer: Buffer.from(partnerPem) });
    await page.getByTestId('certificate-add').click();
    const notAfter = new X509Certificate(partnerPem).validToDate.getTime();
    const onClientPage = page.locator(`[data-testid="certificate-row"][data-x5t="${partnerX5t}"]`);
    await onClientPage.waitFor();
    assert.equal(Date.parse(await onClientPage.getAttribute('data-not-after') ?? ''), notAfter);
    assert.equal(await onClientPage.getAttribute('data-state'), 'active');
    await shoot(page, 'client-detail');

    await go('nav-certificates', 'certificate-timeline');
    const onTimeline = page.locator(`[data-testid="certificate-row"][data-x5t="${partnerX5t}"]`);
    await onTimeline.waitFor();
    assert.equal(Date.parse(await onTimeline.getAttribute('data-not-after') ?? ''), notAfter);
    assert.match(await onTimeline.innerText(), new RegExp(`${new Date(notAfter).toISOString().slice(0, 10)}\\s+in 4[45] days`), 'the expiry is shown');
    assert.match(await onTimeline.innerText(), new RegExp(PARTNER));
    await shoot(page, 'certificates');
  });

  it('retires it; the audit log shows the add and the retire under alice\'s sub', async () => {
    await page.goto(`${server.publicUrl}/console/#/clients/${PARTNER}`);
    const row = page.locator(`[data-testid="certificate-row"][data-x5t="${partnerX5t}"]`);
    await row.getByTestId('certificate-retire').click();
    await page.locator(`[data-testid="certificate-row"][data-x5t="${partnerX5t}"][data-state="retired"]`).waitFor();
    const registered = await adminApi('GET', `/clients/${PARTNER}/certificates`);
    assert.equal(registered.json.items.find((c) => c['x5t#S256'] === partnerX5t)?.status, 'retired');

    await go('nav-audit', 'audit-table');
    const target = `clients/${PARTNER}/certificates/${partnerX5t}`;
    for (const action of ['client.certificate.add', 'client.certificate.retire']) {
      const entry = page.locator(`[data-testid="audit-row"][data-action="${action}"][data-target="${target}"]`);
      await entry.waitFor();
      assert.match(await entry.innerText(), new RegExp(`person\\s+${aliceSub}`), `${action} names alice's sub`);
    }
    // The API agrees: both rows carry alice as actor.sub.
    const audit = await adminApi('GET', `/audit?target=${encodeURIComponent(target)}`);
    assert.deepEqual(audit.json.items.map((e) => [e.action, (e.actor as { sub?: string }).sub]).sort(),
      [['client.certificate.add', aliceSub], ['client.certificate.retire', aliceSub]]);
    await shoot(page, 'audit-log');
  });

  it('says so when someone else changed the client between opening and saving (ETag)', async () => {
    await page.goto(`${server.publicUrl}/console/#/clients/${PARTNER}`);
    await page.getByTestId('client-edit').click();
    const form = page.getByTestId('client-form');
    await form.waitFor();
    // Someone else, through the admin API, with the current ETag.
    const current = await adminApi('GET', `/clients/${PARTNER}`);
    const changed = await adminApi('PUT', `/clients/${PARTNER}`, { json: { ...current.json, client_name: 'Changed underneath' }, headers: { 'if-match': String(current.headers.etag) } });
    assert.equal(changed.status, 200, changed.text);
    await form.locator('[name="client_name"]').fill('Partner One Ltd');
    await page.getByTestId('client-save').click();
    const message = page.getByTestId('page-error').filter({ hasText: 'Someone else changed this client' });
    await message.waitFor();
    assert.match(await message.innerText(), /Someone else changed this client since you opened it/);
    // Nothing of the stale edit was written.
    assert.equal((await adminApi('GET', `/clients/${PARTNER}`)).json.client_name, 'Changed underneath');
  });

  it('shows the resource servers and checks a certificate with the doctor\'s steps', async () => {
    await go('nav-resource-servers', 'resource-server-row');
    await shoot(page, 'resource-servers');
    await go('nav-check', 'check-pem');
    await page.getByTestId('check-pem').fill(await readFile(server.pki.demoClientCertFile, 'utf8'));
    await page.getByTestId('check-client').fill('demo-client');
    await page.getByTestId('check-submit').click();
    const result = page.getByTestId('check-result');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-ok'), 'true', await result.innerText());
    assert.ok(await page.getByTestId('check-step').count() >= 2, 'the doctor\'s steps are listed');
    assert.equal(await page.locator('[data-testid="check-step"][data-ok="false"]').count(), 0);
    await shoot(page, 'check', 'check-result');
  });

  it('sign-out revokes the session: the old access token gets 401 and /console/ shows the sign-in screen', async () => {
    const tokens = await storedTokens(page);
    assert.ok(tokens?.access_token);
    // Two requests the console is about to send, stopped in the browser so their DPoP proofs stay
    // unused: one is sent before sign-out (the token works), the other after (it must not).
    const held: Array<{ url: string; headers: Record<string, string> }> = [];
    let bothHeld!: () => void;
    const holding = new Promise<void>((resolve) => { bothHeld = resolve; });
    await page.route(`${server.publicUrl}/admin/v1/**`, async (route) => {
      const request = route.request();
      if (request.method() === 'GET' && held.length < 2) held.push({ url: request.url(), headers: await request.allHeaders() });
      if (held.length === 2) bothHeld();
      await route.abort();
    });
    await page.goto(`${server.publicUrl}/console/#/clients`);
    await page.goto(`${server.publicUrl}/console/#/certificates`);
    await within(holding, 15_000, 'two admin API requests from the console');
    await page.unrouteAll();
    const replay = (h: { url: string; headers: Record<string, string> }) => https(h.url, {
      ca: server.ca, headers: { authorization: h.headers.authorization ?? '', dpop: h.headers.dpop ?? '', accept: 'application/json' },
    });
    assert.equal(held[0].headers.authorization, `DPoP ${tokens.access_token}`);
    const live = await replay(held[0]);
    assert.equal(live.status, 200, `before sign-out: ${live.status} ${live.text.slice(0, 300)}`);

    await page.reload();
    await page.getByTestId('signout').click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(/\/console\/(#.*)?$/);
    await page.getByTestId('signin').waitFor();
    assert.equal(await storedTokens(page), undefined, 'sessionStorage cleared');
    // The page's own code, as a string: the root tsconfig has Node's types, not the DOM's.
    const keys = await page.evaluate<number>(`new Promise((resolve, reject) => {
      const open = indexedDB.open('certbound-console');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        if (!db.objectStoreNames.contains('keys')) return resolve(0);
        const count = db.transaction('keys', 'readonly').objectStore('keys').count();
        count.onsuccess = () => resolve(count.result);
        count.onerror = () => reject(count.error);
      };
    })`);
    assert.equal(keys, 0, 'the DPoP key is deleted from IndexedDB');

    const dead = await replay(held[1]);
    assert.equal(dead.status, 401, `after sign-out: ${dead.status} ${dead.text.slice(0, 300)}`);
    assert.match(String(dead.headers['www-authenticate']), /invalid_token/);
    // A page reload does not bring the session back.
    await page.goto(`${server.publicUrl}/console/`);
    await page.getByTestId('signin').waitFor();
    assert.equal(await page.getByTestId('signout').isVisible(), false);
  });

  it('signs out by itself after the idle timeout and says why on the sign-in screen', async () => {
    const config = await https(`${server.publicUrl}/console/config.json`, { ca: server.ca });
    const idleSeconds = Number(config.json.idle_timeout_seconds);
    assert.ok(idleSeconds >= 60, `idle_timeout_seconds: ${config.text}`);
    const idle = await newConsolePage(browser);
    try {
      // The page's clock (Date, timers) is Playwright's: it runs with real time until the test moves it past the timeout.
      await idle.context.clock.install();
      await idle.page.goto(`${server.publicUrl}/console/`);
      await signIn(idle.page, server.alice);
      await idle.page.getByTestId('overview-counts').waitFor();
      await idle.page.clock.fastForward((idleSeconds + 10) * 1000);
      await idle.page.getByRole('button', { name: 'Yes, sign me out' }).click();
      await idle.page.waitForURL(/\/console\/(#.*)?$/);
      const notice = idle.page.getByTestId('signin-error');
      await notice.waitFor();
      assert.match(await notice.innerText(), new RegExp(`signed out after ${Math.round(idleSeconds / 60)} minutes without activity`));
      assert.equal(await storedTokens(idle.page), undefined, 'no tokens left');
      assert.deepEqual(cspViolations(idle), []);
    } finally {
      await idle.context.close();
    }
  });

  it('refuses bob (no admin role) with the reason on the sign-in screen', async () => {
    const bob = await newConsolePage(browser);
    try {
      await bob.page.goto(`${server.publicUrl}/console/`);
      await signIn(bob.page, server.bob);
      const error = bob.page.getByTestId('signin-error');
      await error.waitFor();
      const text = await error.innerText();
      assert.match(text, /only for people with the admin role/, text);
      assert.match(text, /invalid_target/, text);
      assert.equal(await storedTokens(bob.page), undefined, 'no tokens kept');
      assert.equal(await bob.page.getByTestId('signout').isVisible(), false);
      assert.deepEqual(cspViolations(bob), [], 'the login page and the refusal break no CSP rule');
    } finally {
      await bob.context.close();
    }
  });

  it('ran without a CSP violation or a page error', () => {
    assert.deepEqual(cspViolations(alice), []);
    assert.deepEqual(alice.errors.map((e) => e.message), []);
  });
});
