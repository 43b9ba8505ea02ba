// GET /admin/v1/openapi.json stays true: every route in the router's table is in the document
// with exactly the statuses the route declares, and the document describes no route that does
// not exist. The routes then answer only what they declare (admin_undeclared_status never logs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { https } from '../support/https.ts';

const METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head', 'options'];

/** '/clients/:client_id' -> '/clients/{client_id}' */
function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The parts of the OpenAPI 3.1 document this test reads. */
interface Parameter {
  readonly $ref?: string;
  readonly in?: string;
  readonly name?: string;
}
interface Operation {
  readonly operationId: string;
  readonly responses: Readonly<Record<string, unknown>>;
  readonly security?: unknown;
  readonly parameters?: readonly Parameter[];
}
interface PathItem {
  readonly [method: string]: Operation | readonly Parameter[] | undefined;
  readonly parameters?: readonly Parameter[];
}
interface OpenApiDocument {
  readonly openapi: string;
  readonly servers: unknown;
  readonly paths: Readonly<Record<string, PathItem>>;
}

/** What a `$ref` ('#/components/...') points at, or the node itself. */
function resolve(doc: OpenApiDocument, node: { readonly $ref?: unknown }): unknown {
  if (typeof node.$ref === 'string') return node.$ref.slice(2).split('/').reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], doc);
  return node;
}

describe('GET /admin/v1/openapi.json', () => {
  let as: TestAuthz;
  let doc: OpenApiDocument;

  before(async () => {
    as = await startTestAuthz({ pki: await makeTestPki() });
    const res = await https(`${as.mtlsUrl}/admin/v1/openapi.json`, { ca: as.ca });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = res.json as unknown as OpenApiDocument;
  });

  after(async () => { await as?.close(); });

  it('is an OpenAPI 3.1 document served under /admin/v1', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc.servers, [{ url: '/admin/v1' }]);
  });

  it('describes every route of the router with exactly its statuses, auth and operationId', () => {
    assert.ok(as.server.adminRoutes.length >= 17);
    for (const route of as.server.adminRoutes) {
      const path = doc.paths[openApiPath(route.path)];
      assert.ok(path, `${route.path} is missing from the document`);
      const op = path[route.method.toLowerCase()] as Operation | undefined;
      assert.ok(op, `${route.method} ${route.path} is missing from the document`);
      assert.equal(op.operationId, route.name);
      assert.deepEqual(Object.keys(op.responses).map(Number).sort((a, b) => a - b), [...route.statuses],
        `${route.method} ${route.path}: documented statuses differ from the route's`);
      assert.deepEqual(op.security, route.auth ? undefined : [], `${route.method} ${route.path}: security`);
      const params = [...(path.parameters ?? []), ...(op.parameters ?? [])].map((p) => resolve(doc, p) as Parameter);
      for (const name of route.path.match(/:([A-Za-z0-9_]+)/g)?.map((p) => p.slice(1)) ?? []) {
        assert.ok(params.some((p) => p.in === 'path' && p.name === name), `${route.path}: path parameter ${name} undocumented`);
      }
    }
  });

  it('describes no operation the router does not have', () => {
    const routes = new Set(as.server.adminRoutes.map((r) => `${r.method} ${openApiPath(r.path)}`));
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS.filter((m) => item[m])) {
        assert.ok(routes.has(`${method.toUpperCase()} ${path}`), `${method.toUpperCase()} ${path} is documented but not routed`);
      }
    }
  });

  it('resolves every $ref', () => {
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (node && typeof node === 'object') {
        const { $ref } = node as { $ref?: unknown };
        if (typeof $ref === 'string') assert.ok(resolve(doc, node), `${$ref} does not resolve`);
        Object.values(node).forEach(walk);
      }
    };
    walk(doc);
  });

  it('routes answer only statuses they declare', async () => {
    const calls: Array<[string, string, unknown?, Record<string, string>?]> = [
      ['GET', '/clients'], ['GET', '/clients?limit=x'], ['GET', '/clients/admin'], ['GET', '/clients/none'],
      ['POST', '/clients', { client_id: 'c1', tls_client_auth_subject_dn: 'CN=c1' }], ['POST', '/clients', { client_id: 'c1', tls_client_auth_subject_dn: 'CN=c1' }],
      ['PUT', '/clients/c1', { tls_client_auth_subject_dn: 'CN=c1' }], ['PUT', '/clients/c1', { tls_client_auth_subject_dn: 'CN=c1' }, { 'if-match': '"1"' }],
      ['GET', '/clients/c1/certificates'], ['DELETE', '/clients/c1/certificates/x'], ['POST', '/clients/c1/revoke'],
      ['GET', '/certificates/expiring'], ['GET', '/certificates/expiring?within=x'],
      ['GET', '/resource-servers'], ['POST', '/resource-servers', { identifier: 'https://r.test' }], ['GET', '/resource-servers/https%3A%2F%2Fr.test'],
      ['DELETE', '/resource-servers/https%3A%2F%2Fr.test'], ['GET', '/audit'], ['GET', '/audit?since=x'], ['DELETE', '/clients/c1'],
    ];
    for (const [method, path, json, headers] of calls) await as.admin.request(method, path, { json, headers });
    await as.admin.request('GET', '/clients', { token: null });
    assert.deepEqual(as.logs.filter((l) => l.event === 'admin_undeclared_status'), []);
  });
});
