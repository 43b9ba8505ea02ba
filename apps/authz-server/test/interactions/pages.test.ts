// The interaction pages' building blocks: escaping, the CSRF guard, the form reader.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { escapeHtml, html, PAGE_HEADERS } from '../../src/interactions/html.ts';
import { createCsrfGuard } from '../../src/interactions/csrf.ts';
import { type FormError, FORM_LIMIT, readForm } from '../../src/interactions/form-body.ts';
import { consentPage, loginPage } from '../../src/interactions/pages.ts';

function request(body: string, headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }): IncomingMessage {
  return Object.assign(Readable.from([Buffer.from(body)]), { headers }) as unknown as IncomingMessage;
}

describe('html escaping', () => {
  it('escapes every interpolated value and leaves html`` output alone', () => {
    assert.equal(escapeHtml(`<a href="x" onclick='y'>&\``), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;');
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p>${inner}${['<', html`<br>`]}${undefined}${false}${0}</p>`.value, '<p><b>&lt;i&gt;</b>&lt;<br>0</p>');
  });

  it('renders no unescaped client or user text on the login and consent pages', () => {
    const evil = '"><script>alert(1)</script>';
    const login = loginPage({ uid: 'u1', csrf: 'c', clientName: evil, username: evil, error: evil });
    const consent = consentPage({ uid: 'u1', csrf: 'c', clientName: evil, accountName: evil, oidcScopes: [evil], resourceScopes: [{ resource: evil, scopes: [evil] }], offline: true });
    for (const page of [login, consent]) {
      assert.doesNotMatch(page, /<script>/);
      assert.match(page, /&lt;script&gt;/);
    }
  });

  it('allows only its own inline style (by hash), and no framing', () => {
    assert.match(PAGE_HEADERS['Content-Security-Policy'], /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; base-uri 'none'; frame-ancestors 'none'$/);
  });
});

describe('CSRF guard', () => {
  const guard = createCsrfGuard('a cookie key', 'https://as.example:8443');
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

  it('accepts the token of this interaction from this origin, or with no Origin header', () => {
    assert.equal(guard.refusal(req({ origin: 'https://as.example:8443' }), 'uid-1', guard.token('uid-1')), undefined);
    assert.equal(guard.refusal(req({}), 'uid-1', guard.token('uid-1')), undefined);
  });

  it('refuses another interaction\'s token, none, another origin and a cross-site fetch', () => {
    assert.match(guard.refusal(req({}), 'uid-1', guard.token('uid-2'))!, /token/);
    assert.match(guard.refusal(req({}), 'uid-1', undefined)!, /token/);
    assert.match(guard.refusal(req({ origin: 'https://evil.example' }), 'uid-1', guard.token('uid-1'))!, /another origin/);
    assert.match(guard.refusal(req({ 'sec-fetch-site': 'cross-site' }), 'uid-1', guard.token('uid-1'))!, /another site/);
  });

  it('derives different tokens from different keys', () => {
    assert.notEqual(createCsrfGuard('another key', 'https://as.example:8443').token('uid-1'), guard.token('uid-1'));
  });
});

describe('form reader', () => {
  it('reads url-encoded fields', async () => {
    const form = await readForm(request('username=alice&password=p%40ss+word&csrf=x'));
    assert.deepEqual(Object.fromEntries(form), { username: 'alice', password: 'p@ss word', csrf: 'x' });
  });

  it('refuses another content type (415), a field sent twice (400), and a body over the limit (413)', async () => {
    await assert.rejects(readForm(request('{}', { 'content-type': 'application/json' })), (e: FormError) => e.status === 415);
    await assert.rejects(readForm(request('a=1&a=2')), (e: FormError) => e.status === 400 && /sent more than once/.test(e.message));
    await assert.rejects(readForm(request(`a=${'x'.repeat(FORM_LIMIT)}`)), (e: FormError) => e.status === 413);
  });

  it('decodes malformed percent-escapes without throwing', async () => {
    const form = await readForm(request('a=%zz&b=%'));
    assert.equal(form.get('a'), '%zz');
  });
});
