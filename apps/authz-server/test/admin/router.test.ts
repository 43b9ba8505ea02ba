import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRouter, type Route } from '../../src/admin/router.ts';
import { AdminError } from '../../src/admin/errors.ts';

const route = (method: Route['method'], path: string, name = `${method} ${path}`): Route => ({
  method, path, name, auth: true, statuses: [200], handler: async () => undefined,
});

function refusal(fn: () => unknown): AdminError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AdminError);
    return err;
  }
  assert.fail('expected a refusal');
}

describe('admin router', () => {
  const router = createRouter([
    route('GET', '/clients'),
    route('POST', '/clients'),
    route('GET', '/clients/:client_id'),
    route('PUT', '/clients/:client_id'),
    route('DELETE', '/clients/:client_id/certificates/:x5t'),
    route('GET', '/certificates/expiring'),
  ]);

  it('exposes its route table', () => {
    assert.equal(router.routes.length, 6);
    assert.ok(Object.isFrozen(router.routes));
  });

  it('matches literal paths and percent-decodes parameters', () => {
    assert.equal(router.match('GET', '/clients').route.name, 'GET /clients');
    const match = router.match('DELETE', '/clients/a%2Fb%20c/certificates/xyz');
    assert.deepEqual(match.params, { client_id: 'a/b c', x5t: 'xyz' });
    assert.deepEqual(router.match('GET', `/clients/${encodeURIComponent("o'brien;--")}`).params, { client_id: "o'brien;--" });
  });

  it('answers 405 with Allow when the path exists for other methods', () => {
    const err = refusal(() => router.match('PATCH', '/clients/x'));
    assert.equal(err.status, 405);
    assert.equal(err.code, 'method_not_allowed');
    assert.deepEqual(err.headers, { allow: 'GET, PUT' });
  });

  it('answers 404 for unknown paths, trailing slashes and undecodable parameters', () => {
    for (const path of ['/nope', '/clients/', '/clients/x/y', '/clients/%E0%A4%A', '/clients/a%00b', '/clients/%ED%A0%80']) {
      const err = refusal(() => router.match('GET', path));
      assert.equal(err.status, 404, path);
      assert.equal(err.code, 'not_found');
    }
  });

  it('refuses a route registered twice', () => {
    assert.throws(() => createRouter([route('GET', '/a/:x'), route('GET', '/a/:y')]), /GET \/a\/:y is registered twice/);
  });
});
