// Attack class: stored cross-site scripting through the admin console. A partner chooses its own
// client_name (dynamic registration, a support ticket copied in) and the subject of its own
// certificate; the console shows both to an operator whose token can change every client. Markup
// in them (`<img onerror>`, `<script>`, a quote that closes an attribute) must be shown as the text
// it is and never run: the console builds its DOM with createElement/textContent only, and its CSP
// (script-src 'self', no 'unsafe-inline') would block an inline script that slipped through.
//
// A real server (test/support/authz.ts: real TLS, embedded storage or PostgreSQL + Redis when
// TEST_DATABASE_URL / TEST_REDIS_URL are set) and a real Chromium (test/support/chromium.ts):
// the payloads go in through the admin API and a refused token request, an admin person signs in
// through the login page, and every page that shows them is visited; on each, no payload ran
// (window.__xss stays undefined, no dialog, no injected element), the payload is in the page as
// text, and the page's CSP is there without 'unsafe-inline'. No CSP violation is reported either:
// one would mean that some page of the console itself uses inline script or style.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { createLocalAccount } from '../../apps/authz-server/src/accounts/local-accounts.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { browserSkip, cspViolations, launchChromium, newConsolePage, signIn, type ConsolePage } from '../support/chromium.ts';
import { https } from '../support/https.ts';
import { issueCertificate, x5tS256, type IssuedCertificate } from '../support/pki.ts';

const IMG_NAME = '<img src=x onerror="window.__xss=1">';
const SCRIPT_NAME = '"><script>window.__xss=2</script>';
const RS_NAME = '<svg onload="window.__xss=5"></svg>';
/** RFC 4514 escapes < and >; the certificate's subject is CN=<script>window.__xss=3</script>,O=<img src=x onerror=window.__xss=4>. */
const XSS_SUBJECT = 'CN=\\<script\\>window.__xss=3\\</script\\>,O=\\<img src=x onerror=window.__xss=4\\>';
const SUBJECT_PARTS = ['<script>window.__xss=3</script>', '<img src=x onerror=window.__xss=4>'];
const PASSWORD = 'correct horse battery staple';
const RUN = randomBytes(4).toString('hex');

describe('stored XSS through the console: a client name and a certificate subject', { skip: browserSkip() }, () => {
  let pki: TestPki;
  let as: TestAuthz;
  let browser: Browser;
  let admin: ConsolePage;
  let cert: IssuedCertificate;

  /**
   * What the page shows as text, without backslashes: a subject is shown as its RFC 4514 string (`\<` escapes) and the audit
   * log's JSON doubles them. The payloads hold none.
   */
  const pageText = async () => (await admin.page.locator('body').textContent() ?? '').replaceAll('\\', '');

  /** Nothing of any payload ran, no element it carries was created, and `texts` are on the page as text. */
  const inert = async (where: string, texts: string[]) => {
    const { page } = admin;
    assert.equal(await page.evaluate('typeof window.__xss'), 'undefined', `${where}: a payload ran (window.__xss = ${String(await page.evaluate('window.__xss'))})`);
    assert.deepEqual(admin.dialogs, [], `${where}: a dialog opened`);
    assert.equal(await page.locator('main script, main img[src="x"], main svg[onload], main [onerror], main [onload]').count(), 0, `${where}: an injected element`);
    const text = await pageText();
    for (const expected of texts) assert.ok(text.includes(expected), `${where}: "${expected}" is shown as text`);
  };

  const visit = async (hash: string, ready: string) => {
    await admin.page.goto(`${as.publicUrl}/console/#/${hash}`);
    await admin.page.reload(); // a fresh document for each page: a payload cannot hide behind a previous page's state
    await admin.page.getByTestId(ready).first().waitFor();
  };

  before(async () => {
    pki = await makeTestPki();
    as = await startTestAuthz({ pki });
    await createLocalAccount(as.server.stores.sql, { username: `xss-admin-${RUN}`, password: PASSWORD, roles: ['admin'] });
    cert = await issueCertificate({ subject: XSS_SUBJECT, issuer: pki.clientRoot, days: 20 });
    assert.deepEqual(cert.cert.subject.split('\n').map((rdn) => rdn.replace(/\\(.)/g, '$1')).sort(),
      ['CN=<script>window.__xss=3</script>', 'O=<img src=x onerror=window.__xss=4>'], 'the certificate carries the payload subject');

    const created = async (path: string, json: unknown) => {
      const res = await as.admin.request('POST', path, { json });
      assert.equal(res.status, 201, `POST ${path}: ${res.text}`);
    };
    await created('/resource-servers', { identifier: 'https://xss.example', name: RS_NAME, scopes: ['read'] });
    await created('/clients', {
      client_id: 'xss-img', client_name: IMG_NAME, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: cert.subject,
      resources: { 'https://xss.example': ['read'] },
    });
    await created('/clients', {
      client_id: 'xss-script', client_name: SCRIPT_NAME, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=xss-script,O=certbound tests',
      resources: { 'https://xss.example': ['read'] },
    });
    await created('/clients/xss-img/certificates', { pem: cert.certPem });
    // A refusal whose description quotes the payload subject: xss-script presented the other certificate.
    const refused = await https(`${as.mtlsUrl}/token`, {
      ca: as.ca, identity: { cert: cert.certPem, key: cert.keyPem }, form: { grant_type: 'client_credentials', client_id: 'xss-script' },
    });
    assert.equal(refused.status, 401, refused.text);

    browser = await launchChromium({ trust: [pki.server.certPem] });
    admin = await newConsolePage(browser);
    const res = await admin.page.goto(`${as.publicUrl}/console/`);
    const csp = res?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/, `the console's CSP: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline/);
    await signIn(admin.page, { username: `xss-admin-${RUN}`, password: PASSWORD });
    await admin.page.getByTestId('signout').waitFor();
  });

  after(async () => {
    await browser?.close();
    await as?.close();
  });

  it('the clients list shows both names as text', async () => {
    await visit('clients', 'client-row');
    await inert('clients list', [IMG_NAME, SCRIPT_NAME, ...SUBJECT_PARTS]);
  });

  it('each client\'s page shows its name, its matcher, its certificate and its refusals as text', async () => {
    await visit('clients/xss-img', 'certificate-row');
    await inert('client xss-img', [IMG_NAME, ...SUBJECT_PARTS]);
    assert.equal(await admin.page.getByRole('heading', { level: 1 }).textContent(), IMG_NAME);
    await visit('clients/xss-script', 'refusal-row');
    await inert('client xss-script', [SCRIPT_NAME, ...SUBJECT_PARTS]);
    assert.equal(await admin.page.getByRole('heading', { level: 1 }).textContent(), SCRIPT_NAME);
  });

  it('the edit form holds the name as its value', async () => {
    await visit('clients/xss-script', 'client-edit');
    await admin.page.getByTestId('client-edit').click();
    const name = admin.page.getByTestId('client-form').locator('[name="client_name"]');
    assert.equal(await name.inputValue(), SCRIPT_NAME);
    await inert('client edit form', []);
  });

  it('the certificates timeline shows the subject as text', async () => {
    await visit('certificates', 'certificate-row');
    const row = admin.page.locator(`[data-testid="certificate-row"][data-x5t="${x5tS256(cert.cert)}"]`);
    await row.waitFor();
    await inert('certificates', SUBJECT_PARTS);
  });

  it('the audit log shows the changes that carried the payloads as text', async () => {
    await visit('audit', 'audit-row');
    // The before/after values are in closed <details>: open them all so they are rendered.
    for (const summary of await admin.page.locator('[data-testid="audit-row"] details summary').all()) await summary.click();
    await inert('audit log', [IMG_NAME, SCRIPT_NAME, RS_NAME, ...SUBJECT_PARTS]);
  });

  it('the resource servers page and the overview show their data as text', async () => {
    await visit('resource-servers', 'resource-server-row');
    await inert('resource servers', [RS_NAME]);
    await visit('', 'overview-counts');
    await inert('overview', []);
  });

  it('checking the certificate shows its subject as text', async () => {
    await visit('check', 'check-pem');
    await admin.page.getByTestId('check-pem').fill(cert.certPem);
    await admin.page.getByTestId('check-client').fill('xss-img');
    await admin.page.getByTestId('check-submit').click();
    await admin.page.getByTestId('check-result').waitFor();
    await inert('check a certificate', SUBJECT_PARTS);
  });

  it('no page reported a CSP violation or an error', () => {
    assert.deepEqual(cspViolations(admin), []);
    assert.deepEqual(admin.errors.map((e) => e.message), []);
  });
});
