import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:https';
import Koa from 'koa';
import type { Request, Response } from 'express';
import { createVerifier, x5tS256, type VerifiedRequest, type Verifier } from '@certbound/cnf-verifier';
import { koaAuth, koaRequireScopes } from '@certbound/cnf-verifier/koa';
import { expressAuth, expressRequireScopes, type AuthenticatedRequest } from '@certbound/cnf-verifier/express';
import { nodeAuth, nodeRequireScopes } from '@certbound/cnf-verifier/node';
import { createTestPki, type Issued, type TestPki } from './helpers/pki.ts';
import { tlsRequest, type TestServer } from './helpers/tls.ts';
import { call, expectOAuthError } from './helpers/http.ts';
import { accessToken, AUDIENCE, ISSUER, signingKey, type SigningKey } from './helpers/tokens.ts';

const ALGS = 'DPoP algs="ES256 PS256 EdDSA"';
const SCOPE_CHALLENGE = 'Bearer error="insufficient_scope", error_description="access token lacks scope settlements:write", scope="settlements:write", ' + ALGS;

let pki: TestPki;
let key: SigningKey;
let client: Issued;
let verifier: Verifier;
const boundToken = (scope: string) => accessToken(key, { scope, cnf: { 'x5t#S256': x5tS256(client.der) } });

before(async () => {
  pki = createTestPki();
  key = await signingKey();
  client = pki.issue('client-a');
  verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [key.publicJwk] } });
});
after(() => pki.cleanup());

describe('Koa adapter', () => {
  let server: TestServer;
  let ran = 0;
  before(async () => {
    const app = new Koa();
    app.use(koaAuth(verifier));
    app.use(koaRequireScopes('settlements:write'));
    app.use(function settlements(ctx) {
      ran++;
      const auth = ctx.state.auth as VerifiedRequest;
      ctx.body = { clientId: auth.clientId, binding: auth.binding };
    });
    const https = createServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: false }, app.callback());
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const port = (https.address() as AddressInfo).port;
    server = { url: `https://localhost:${port}`, port, server: https, close: () => new Promise((r) => { https.closeAllConnections(); https.close(() => r()); }) };
  });
  after(() => server.close());

  it('puts the verified request on ctx.state.auth', async () => {
    ran = 0;
    const res = await tlsRequest(pki, server, { client, headers: { authorization: `Bearer ${await boundToken('settlements:write')}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { clientId: 'client-1', binding: 'mtls' });
    assert.equal(ran, 1);
  });

  it('answers 401 with WWW-Authenticate and never runs the handler', async () => {
    ran = 0;
    const res = await tlsRequest(pki, server, { headers: { authorization: `Bearer ${await boundToken('settlements:write')}` } });
    const d = 'access token is bound to a certificate but none was presented';
    assert.equal(res.status, 401);
    assert.deepEqual(res.json(), { error: 'invalid_token', error_description: d });
    assert.equal(res.headers['www-authenticate'], `Bearer error="invalid_token", error_description="${d}", ${ALGS}`);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(ran, 0);
  });

  it('answers 403 insufficient_scope with the scope and never runs the handler', async () => {
    ran = 0;
    const res = await tlsRequest(pki, server, { client, headers: { authorization: `Bearer ${await boundToken('settlements:read')}` } });
    assert.equal(res.status, 403);
    assert.deepEqual(res.json(), { error: 'insufficient_scope', error_description: 'access token lacks scope settlements:write' });
    assert.equal(res.headers['www-authenticate'], SCOPE_CHALLENGE);
    assert.equal(ran, 0);
  });
});

describe('Express adapter', () => {
  interface Recorded {
    status?: number;
    headers: Record<string, string>;
    body?: unknown;
    done?: () => void;
  }
  const fakeRes = () => {
    const rec: Recorded = { headers: {} };
    const res = {
      status(code: number) {
        rec.status = code;
        return res;
      },
      set(field: string | Record<string, string>, value?: string) {
        Object.assign(rec.headers, typeof field === 'string' ? { [field.toLowerCase()]: value } : field);
        return res;
      },
      json(body: unknown) {
        rec.body = body;
        rec.done?.();
        return res;
      },
    };
    return { res: res as unknown as Response, rec };
  };
  const fakeReq = (headers: Record<string, string>) =>
    ({ method: 'GET', url: '/', originalUrl: '/', headers, socket: { remoteAddress: '127.0.0.1' } }) as unknown as Request;
  const run = (handler: ReturnType<typeof expressAuth>, req: Request) =>
    new Promise<{ rec: Recorded; next: unknown[] | undefined }>((resolve) => {
      const { res, rec } = fakeRes();
      rec.done = () => resolve({ rec, next: undefined });
      handler(req, res, (...args: unknown[]) => resolve({ rec, next: args }));
    });

  it('answers the refusal and never calls next', async () => {
    const { rec, next } = await run(expressAuth(verifier), fakeReq({}));
    assert.equal(next, undefined);
    assert.equal(rec.status, 401);
    assert.deepEqual(rec.body, { error: 'invalid_token', error_description: 'no access token presented' });
    assert.equal(rec.headers['www-authenticate'], `Bearer, ${ALGS}`);
    assert.equal(rec.headers['cache-control'], 'no-store');
  });

  it('sets req.auth and calls next() for a permissive bearer token', async () => {
    const permissive = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [key.publicJwk] }, mode: 'permissive' });
    const req = fakeReq({ authorization: `Bearer ${await accessToken(key, { scope: 'settlements:read' })}` });
    const { next } = await run(expressAuth(permissive), req);
    assert.deepEqual(next, []);
    assert.equal((req as AuthenticatedRequest).auth?.binding, 'bearer');

    const scoped = await run(expressRequireScopes('settlements:write'), req);
    assert.equal(scoped.next, undefined);
    assert.equal(scoped.rec.status, 403);
    assert.deepEqual(scoped.rec.body, { error: 'insufficient_scope', error_description: 'access token lacks scope settlements:write' });
    assert.equal(scoped.rec.headers['www-authenticate'], SCOPE_CHALLENGE);
    assert.equal(scoped.rec.headers['cache-control'], 'no-store');
  });

  it('passes errors that are not refusals to next(err)', async () => {
    const down = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { url: 'http://127.0.0.1:1/jwks', timeoutMs: 300 } });
    const { next, rec } = await run(expressAuth(down), fakeReq({ authorization: `Bearer ${await boundToken('a')}` }));
    assert.equal((next?.[0] as Error | undefined)?.name, 'UpstreamError');
    assert.equal(rec.status, undefined);
  });
});

describe('node:http adapter', () => {
  it('runs the handler only with every scope, else 403', async () => {
    const permissive = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [key.publicJwk] }, mode: 'permissive' });
    let ran = 0;
    const server = (await import('node:http')).createServer(
      nodeAuth(
        permissive,
        nodeRequireScopes(['settlements:write'], (_req, res) => {
          ran++;
          res.end('{"ok":true}');
        }),
      ),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const denied = await call(url, { headers: { authorization: `Bearer ${await accessToken(key, { scope: 'settlements:read' })}` } });
      expectOAuthError(denied, 403, 'insufficient_scope', 'access token lacks scope settlements:write', SCOPE_CHALLENGE);
      assert.equal(ran, 0);
      const allowed = await call(url, { headers: { authorization: `Bearer ${await accessToken(key, { scope: 'settlements:write' })}` } });
      assert.equal(allowed.status, 200);
      assert.equal(ran, 1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
