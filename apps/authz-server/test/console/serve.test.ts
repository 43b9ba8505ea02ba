// console/serve.ts on a real server: the shell at /console/ and /console/callback, config.json
// naming the public endpoints, the CSP without 'unsafe-inline' (and the other headers) on every
// answer, only the listed assets (no path outside assets/, no dotfiles), GET and HEAD only, and
// nothing of the console on the mutual-TLS listener or with CONSOLE=off.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../../../../test/support/authz.ts';
import { https } from '../../../../test/support/https.ts';

describe('the console\'s pages', () => {
  let pki: TestPki;
  let as: TestAuthz;
  before(async () => {
    pki = await makeTestPki();
    as = await startTestAuthz({ pki });
  });
  after(() => as?.close());

  const get = (path: string, options: { method?: string; base?: string } = {}) =>
    https(`${options.base ?? as.publicUrl}${path}`, { ca: as.ca, method: options.method ?? 'GET' });

  it('serves the shell at /console/ and at the sign-in callback, never cached, with the CSP', async () => {
    for (const path of ['/console/', '/console/callback']) {
      const res = await get(path);
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.equal(res.headers['cache-control'], 'no-store');
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.match(res.text, /<script type="module" src="\/console\/assets\/[a-z0-9-]+\.js"><\/script>/);
      assert.doesNotMatch(res.text, /<script>|<style|style="| on[a-z]+=/i, 'no inline script, style or handler');
    }
    const bare = await get('/console');
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, '/console/');
  });

  it('config.json names the console client and the public endpoints of this issuer', async () => {
    const res = await get('/console/config.json');
    assert.equal(res.status, 200);
    assert.equal(res.json.client_id, 'certbound-console');
    assert.equal(res.json.token_endpoint, `${as.issuer}/token`);
    assert.equal(res.json.redirect_uri, `${as.issuer}/console/callback`);
    assert.equal(res.json.admin_api, `${as.issuer}/admin/v1`);
    assert.equal(res.json.resource, 'urn:certbound:admin-api');
    assert.equal(res.json.idle_timeout_seconds, 900);
  });

  it('serves the listed assets only: no traversal, no unknown names, no other methods', async () => {
    const js = await get('/console/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match(String(js.headers['content-security-policy']), /default-src 'none'/);
    // A client resolves dot segments before sending: that one never names a console file.
    assert.equal((await get('/console/assets/../../package.json')).status, 404);
    for (const path of ['/console/assets/%2e%2e%2fconfig.ts', '/console/assets/.eslintrc.js', '/console/assets/missing.js', '/console/index.html', '/console/tsconfig.json']) {
      const res = await get(path);
      assert.equal(res.status, 404, path);
      assert.equal(res.json?.error, 'not_found', path);
    }
    const post = await get('/console/', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  it('is not on the mutual-TLS listener', async () => {
    const res = await https(`${as.mtlsUrl}/console/`, { ca: as.ca, identity: as.admin.identity });
    assert.notEqual(res.status, 200);
    assert.doesNotMatch(res.text, /<html/i);
  });
});

describe('CONSOLE=off', () => {
  let as: TestAuthz;
  before(async () => {
    as = await startTestAuthz({ pki: await makeTestPki(), env: { CONSOLE: 'off' } });
  });
  after(() => as?.close());

  it('serves no console, and /admin/v1 is not on the public listener', async () => {
    assert.notEqual((await https(`${as.publicUrl}/console/`, { ca: as.ca })).status, 200);
    const admin = await https(`${as.publicUrl}/admin/v1/clients`, { ca: as.ca });
    assert.equal(admin.status, 404);
    assert.match(admin.json.error_description, /mutual-TLS listener only/);
  });
});
