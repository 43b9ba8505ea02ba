import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:https';
import Koa from 'koa';
import type { Request, Response } from 'express';
import { createVerifier, jwkThumbprint, TemporarilyUnavailableError, x5tS256, type ReplayStore, type VerifiedRequest, type Verifier } from '@certbound/cnf-verifier';
import { koaAuth, koaRequireScopes } from '@certbound/cnf-verifier/koa';
import { expressAuth, expressRequireScopes, type AuthenticatedRequest } from '@certbound/cnf-verifier/express';
import { nodeAuth, nodeRequireScopes } from '@certbound/cnf-verifier/node';
import { createTestPki, type Issued, type TestPki } from './helpers/pki.ts';
import { tlsRequest, type TestServer } from './helpers/tls.ts';
import { call, expectOAuthError } from './helpers/http.ts';
import { accessToken, AUDIENCE, dpopProof, ISSUER, proofKey, signingKey, type SigningKey } from './helpers/tokens.ts';

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
  verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] } });
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
    const handle = app.callback();
    const https = createServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      void handle(req, res); // Koa answers its own errors
    });
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
    const permissive = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] }, mode: 'permissive' });
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
    const down = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { url: 'http://127.0.0.1:1/jwks', timeoutMs: 300 } });
    const { next, rec } = await run(expressAuth(down), fakeReq({ authorization: `Bearer ${await boundToken('a')}` }));
    assert.equal((next?.[0] as Error | undefined)?.name, 'UpstreamError');
    assert.equal(rec.status, undefined);
  });
});

describe('node:http adapter', () => {
  it('runs the handler only with every scope, else 403', async () => {
    const permissive = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] }, mode: 'permissive' });
    let ran = 0;
    const guarded = nodeAuth(
      permissive,
      nodeRequireScopes(['settlements:write'], (_req, res) => {
        ran++;
        res.end('{"ok":true}');
      }),
    );
    const server = (await import('node:http')).createServer((req, res) => void guarded(req, res));
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

describe('a full replay store: 503 temporarily_unavailable with Retry-After in every adapter', () => {
  // A shared store at capacity answers as the in-memory one does; the handler must never run.
  const full: ReplayStore = {
    async add() {
      throw new TemporarilyUnavailableError('DPoP replay store is full; retry later', { retryAfter: 41.2 });
    },
  };
  const body = { error: 'temporarily_unavailable', error_description: 'DPoP replay store is full; retry later' };
  let ran = 0;
  const dpopRequest = async (origin: string, path = '/') => {
    const client = await proofKey();
    const token = await accessToken(key, { cnf: { jkt: await jwkThumbprint(client.jwk) } });
    return { authorization: `DPoP ${token}`, dpop: await dpopProof(client, { htu: `${origin}${path}`, accessToken: token }) };
  };
  const listen = async (handler: RequestListener) => {
    const server = (await import('node:http')).createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  };
  const expect503 = (status: number | undefined, headers: Record<string, unknown>, json: unknown) => {
    assert.equal(status, 503);
    assert.equal(headers['retry-after'], '42');
    assert.equal(headers['cache-control'], 'no-store');
    assert.equal(headers['www-authenticate'], undefined);
    assert.deepEqual(json, body);
    assert.equal(ran, 0);
  };

  it('Koa', async () => {
    ran = 0;
    const app = new Koa();
    let v: Verifier | undefined;
    app.use(async (ctx, next) => { await koaAuth(v!)(ctx, next); });
    app.use((ctx) => { ran++; ctx.body = {}; });
    const handle = app.callback();
    const { server, origin } = await listen((req, res) => { void handle(req, res); });
    v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin, jwks: { keys: [key.publicJwk] }, dpop: { replayStore: full } });
    try {
      const res = await call(`${origin}/`, { headers: await dpopRequest(origin) });
      expect503(res.status, res.headers, res.body);
      assert.equal(v.replayStoreFullRefusals, 1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('Express', async () => {
    ran = 0;
    const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] }, dpop: { replayStore: full } });
    const headers: Record<string, string> = {};
    let status: number | undefined;
    const json = await new Promise<unknown>((resolve, reject) => {
      const res = {
        status(code: number) { status = code; return res; },
        set(field: Record<string, string>) { Object.assign(headers, field); return res; },
        json: resolve,
      } as unknown as Response;
      const req = { method: 'GET', url: '/', originalUrl: '/', socket: {} } as unknown as Request;
      dpopRequest(AUDIENCE).then((h) => {
        req.headers = h;
        expressAuth(v)(req, res, (err?: unknown) => { ran++; reject(err instanceof Error ? err : new Error('next() was called', { cause: err })); });
      }, reject);
    });
    expect503(status, headers, json);
  });

  it('node:http', async () => {
    ran = 0;
    let listener: ReturnType<typeof nodeAuth> | undefined;
    const { server, origin } = await listen((req, res) => void listener!(req, res));
    const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin, jwks: { keys: [key.publicJwk] }, dpop: { replayStore: full } });
    listener = nodeAuth(v, (_req, res) => { ran++; res.end(); });
    try {
      const res = await call(`${origin}/`, { headers: await dpopRequest(origin) });
      expect503(res.status, res.headers, res.body);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
