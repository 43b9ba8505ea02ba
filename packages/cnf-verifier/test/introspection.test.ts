import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createVerifier, InvalidTokenError, x5tS256, type VerifiableRequest, type Verifier } from '@certbound/cnf-verifier';
import { createTestPki, type Issued, type TestPki } from './helpers/pki.ts';
import { AUDIENCE, ISSUER } from './helpers/tokens.ts';

describe('RFC 7662 introspection of opaque tokens, authenticated with mutual TLS', () => {
  let pki: TestPki;
  let rs: Issued;
  let client: Issued;
  let server: Server;
  let endpoint: string;
  let clock = Date.UTC(2030, 0, 1);
  const calls: Array<{ body: string; clientCn: string | undefined }> = [];
  const responses = new Map<string, object>();

  before(async () => {
    pki = createTestPki();
    rs = pki.issue('resource-server');
    client = pki.issue('client-a');
    // The authorization server requires a client certificate from the resource server.
    server = createServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        calls.push({ body, clientCn: (req.socket as TLSSocket).getPeerX509Certificate()?.subject });
        const token = new URLSearchParams(body).get('token') ?? '';
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(responses.get(token) ?? { active: false }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `https://localhost:${(server.address() as AddressInfo).port}/token/introspection`;
    const exp = clock / 1000 + 60;
    responses.set('opaque-mtls', { active: true, client_id: 'client-a', scope: 'settlements:read', iss: ISSUER, aud: AUDIENCE, exp, cnf: { 'x5t#S256': x5tS256(client.der) } });
    responses.set('opaque-other-aud', { active: true, client_id: 'client-a', aud: 'https://other.test', exp });
    responses.set('opaque-unbound', { active: true, client_id: 'client-a', aud: AUDIENCE, exp });
    // RFC 7662 §2.2 lets aud be absent; a token meant for no one in particular is refused.
    responses.set('opaque-no-aud', { active: true, client_id: 'client-a', scope: 'settlements:read', iss: ISSUER, exp, cnf: { 'x5t#S256': x5tS256(client.der) } });
    responses.set('opaque-unknown-cnf', { active: true, client_id: 'client-a', aud: AUDIENCE, exp, cnf: { 'x5t#S512': 'not-a-method-we-check' } });
  });
  after(async () => {
    server.close();
    pki.cleanup();
  });

  const verifier = (): Verifier =>
    createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      origin: AUDIENCE,
      now: () => clock,
      trustedProxies: ['10.0.0.1'],
      proxyHeader: 'client-cert',
      introspection: { endpoint, clientId: 'resource-server', clientCertificate: rs.cert, clientKey: rs.key, ca: pki.ca.cert },
    });
  const request = (token: string, cert?: Issued): VerifiableRequest =>
    ({ method: 'GET', url: '/', headers: { authorization: `Bearer ${token}`, ...(cert ? { 'client-cert': `:${cert.der.toString('base64')}:` } : {}) }, socket: { remoteAddress: '10.0.0.1' } }) as unknown as VerifiableRequest;

  it('accepts an active certificate-bound token over its certificate', async () => {
    calls.length = 0;
    const auth = await verifier().verify(request('opaque-mtls', client));
    assert.equal(auth.binding, 'mtls');
    assert.equal(auth.clientId, 'client-a');
    assert.deepEqual(auth.scopes, ['settlements:read']);
    assert.equal(calls[0].clientCn, 'CN=resource-server');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(calls[0].body)), { token: 'opaque-mtls', token_type_hint: 'access_token', client_id: 'resource-server' });
  });

  it('refuses the token over another certificate', async () => {
    await assert.rejects(verifier().verify(request('opaque-mtls', pki.issue('client-b'))), { code: 'invalid_token', status: 401, message: 'access token is bound to a different certificate' });
  });

  it('refuses an inactive token, another audience, an unbound token in strict mode', async () => {
    const v = verifier();
    await assert.rejects(v.verify(request('nobody-knows-me')), { code: 'invalid_token', message: 'access token is not active' });
    await assert.rejects(v.verify(request('opaque-other-aud')), { code: 'invalid_token', message: 'access token aud does not include this resource server' });
    await assert.rejects(v.verify(request('opaque-unbound')), (err: unknown) => err instanceof InvalidTokenError && err.description === 'access token is not sender-constrained');
  });

  it('refuses an active token without aud, over the certificate it is bound to, and does not cache it', async () => {
    const v = verifier();
    calls.length = 0;
    for (let i = 0; i < 2; i++) {
      await assert.rejects(v.verify(request('opaque-no-aud', client)), (err: unknown) =>
        err instanceof InvalidTokenError && err.status === 401 && err.description === 'access token aud claim is missing');
    }
    assert.equal(calls.length, 2);
  });

  it('refuses a cnf with only unknown members in permissive mode, rather than treat it as bearer', async () => {
    const permissive = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      dpop: false,
      mode: 'permissive',
      now: () => clock,
      introspection: { endpoint, clientId: 'resource-server', clientCertificate: rs.cert, clientKey: rs.key, ca: pki.ca.cert },
    });
    assert.equal((await permissive.verify(request('opaque-unbound'))).binding, 'bearer');
    await assert.rejects(permissive.verify(request('opaque-unknown-cnf')), (err: unknown) =>
      err instanceof InvalidTokenError && err.description === 'access token cnf claim has no confirmation method this resource server supports (x5t#S256, jkt)');
  });

  it('caches an active response until exp and never longer', async () => {
    const v = verifier();
    calls.length = 0;
    await v.verify(request('opaque-mtls', client));
    await v.verify(request('opaque-mtls', client));
    assert.equal(calls.length, 1, 'second answer came from the cache');
    clock += 66_000; // past exp and the default 5 s clockTolerance
    await assert.rejects(v.verify(request('opaque-mtls', client)), { code: 'invalid_token', message: 'access token has expired' });
    assert.equal(calls.length, 2, 'the cache entry ended at exp');
    clock -= 66_000;
  });

  it('does not cache inactive responses', async () => {
    const v = verifier();
    calls.length = 0;
    await assert.rejects(v.verify(request('later-active')));
    responses.set('later-active', { active: true, client_id: 'client-a', aud: AUDIENCE, exp: clock / 1000 + 60, cnf: { 'x5t#S256': x5tS256(client.der) } });
    assert.equal((await v.verify(request('later-active', client))).binding, 'mtls');
    assert.equal(calls.length, 2);
  });

  it('fails with a 503 UpstreamError (not a client error) when the endpoint refuses our certificate', async () => {
    const stranger = createTestPki();
    try {
      const other = stranger.issue('not-trusted-by-the-as');
      const v = createVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        dpop: false,
        introspection: { endpoint, clientId: 'resource-server', clientCertificate: other.cert, clientKey: other.key, ca: pki.ca.cert },
      });
      await assert.rejects(v.verify(request('opaque-mtls')), { name: 'UpstreamError', status: 503 });
    } finally {
      stranger.cleanup();
    }
  });

  it('never disables verification of the endpoint certificate', async () => {
    const v = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      dpop: false,
      introspection: { endpoint, clientId: 'resource-server', clientCertificate: rs.cert, clientKey: rs.key },
    });
    // Without our private CA, the endpoint's certificate is not trusted: the call fails.
    await assert.rejects(v.verify(request('opaque-mtls')), { name: 'UpstreamError' });
  });
});
