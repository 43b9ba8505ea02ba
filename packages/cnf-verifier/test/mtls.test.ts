import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createVerifier, x5tS256, type ProxyHeaderFormat, type VerifiedRequest, type Verifier, type VerifierOptions } from '@certbound/cnf-verifier';
import { nodeAuth } from '@certbound/cnf-verifier/node';
import { createTestPki, type Issued, type TestPki } from './helpers/pki.ts';
import { startTlsServer, tlsRequest, type TestResponse, type TestServer } from './helpers/tls.ts';
import { accessToken, AUDIENCE, dpopProof, ISSUER, proofKey, signingKey, type ProofKey, type SigningKey } from './helpers/tokens.ts';
import { jwkThumbprint } from '@certbound/cnf-verifier';

const ALGS = 'DPoP algs="ES256 PS256 EdDSA"';
const bearerError = (description: string) => `Bearer error="invalid_token", error_description="${description}", ${ALGS}`;

function expectRefusal(res: TestResponse, status: number, code: string, description: string, wwwAuthenticate: string) {
  assert.equal(res.status, status);
  assert.deepEqual(res.json(), { error: code, error_description: description });
  assert.equal(res.headers['www-authenticate'], wwwAuthenticate);
  assert.equal(res.headers['cache-control'], 'no-store');
}

describe('RFC 8705 §3 certificate-bound access tokens', () => {
  let pki: TestPki;
  let key: SigningKey;
  let clientA: Issued;
  let clientB: Issued;
  let server: TestServer;
  let verifier: Verifier;
  let handled: VerifiedRequest[] = [];

  const use = (extra: Partial<VerifierOptions> = {}) => {
    verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] }, ...extra });
    handled = [];
  };
  const tokenFor = (client: Issued, claims: Record<string, unknown> = {}) => accessToken(key, { cnf: { 'x5t#S256': x5tS256(client.der) }, ...claims });

  before(async () => {
    pki = createTestPki();
    key = await signingKey();
    clientA = pki.issue('client-a');
    clientB = pki.issue('client-b');
    use();
    server = await startTlsServer(pki, (req, res) => {
      void nodeAuth(verifier, (_req, res, auth) => {
        handled.push(auth);
        res.end(JSON.stringify({ binding: auth.binding, thumbprint: auth.certificate?.thumbprint, source: auth.certificate?.source }));
      })(req, res);
    });
  });
  after(async () => {
    await server.close();
    pki.cleanup();
  });

  it('accepts the token over the certificate it is bound to (Bearer scheme)', async () => {
    use();
    const res = await tlsRequest(pki, server, { client: clientA, headers: { authorization: `Bearer ${await tokenFor(clientA)}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { binding: 'mtls', thumbprint: x5tS256(clientA.der), source: 'tls' });
  });

  it('refuses a token for certificate A presented with certificate B', async () => {
    use();
    const res = await tlsRequest(pki, server, { client: clientB, headers: { authorization: `Bearer ${await tokenFor(clientA)}` } });
    const d = 'access token is bound to a different certificate';
    expectRefusal(res, 401, 'invalid_token', d, bearerError(d));
    assert.equal(handled.length, 0);
  });

  it('refuses a certificate-bound token presented without a certificate', async () => {
    use();
    const res = await tlsRequest(pki, server, { headers: { authorization: `Bearer ${await tokenFor(clientA)}` } });
    const d = 'access token is bound to a certificate but none was presented';
    expectRefusal(res, 401, 'invalid_token', d, bearerError(d));
    assert.equal(handled.length, 0);
  });

  describe('strict and permissive modes', () => {
    it('strict (the default) refuses an unbound token', async () => {
      use();
      const res = await tlsRequest(pki, server, { client: clientA, headers: { authorization: `Bearer ${await accessToken(key)}` } });
      const d = 'access token is not sender-constrained';
      expectRefusal(res, 401, 'invalid_token', d, bearerError(d));
    });

    it("permissive accepts an unbound token and reports binding 'bearer'", async () => {
      use({ mode: 'permissive' });
      const res = await tlsRequest(pki, server, { client: clientA, headers: { authorization: `Bearer ${await accessToken(key)}` } });
      assert.equal(res.status, 200);
      assert.equal(res.json().binding, 'bearer');
      assert.equal(handled[0].certificate, undefined);
    });

    it('permissive still enforces a binding the token carries', async () => {
      use({ mode: 'permissive' });
      const res = await tlsRequest(pki, server, { client: clientB, headers: { authorization: `Bearer ${await tokenFor(clientA)}` } });
      const d = 'access token is bound to a different certificate';
      expectRefusal(res, 401, 'invalid_token', d, bearerError(d));
    });
  });

  describe('RFC 9440 / proxy certificate headers', () => {
    const sf = (der: Buffer) => `:${der.toString('base64')}:`;

    it('ignores and counts a proxy header from an untrusted peer', async () => {
      use({ trustedProxies: ['10.0.0.0/8'], proxyHeader: 'client-cert' });
      const res = await tlsRequest(pki, server, { headers: { authorization: `Bearer ${await tokenFor(clientA)}`, 'client-cert': sf(clientA.der) } });
      const d = 'access token is bound to a certificate but none was presented';
      expectRefusal(res, 401, 'invalid_token', d, bearerError(d));
      assert.equal(verifier.certificates.ignoredProxyHeaders, 1);
    });

    const formats: Array<[ProxyHeaderFormat, (c: Issued) => Record<string, string>]> = [
      ['client-cert', (c) => ({ 'client-cert': sf(c.der) })],
      ['xfcc', (c) => ({ 'x-forwarded-client-cert': `By=spiffe://api;Hash=x;Cert="${encodeURIComponent(c.cert)}"` })],
      ['nginx', (c) => ({ 'x-ssl-client-cert': encodeURIComponent(c.cert) })],
    ];
    for (const [source, header] of formats) {
      it(`uses ${source} from a trusted proxy`, async () => {
        use({ trustedProxies: ['127.0.0.1'], proxyHeader: source });
        const res = await tlsRequest(pki, server, { headers: { authorization: `Bearer ${await tokenFor(clientA)}`, ...header(clientA) } });
        assert.equal(res.status, 200);
        assert.deepEqual(res.json(), { binding: 'mtls', thumbprint: x5tS256(clientA.der), source });
        assert.equal(verifier.certificates.ignoredProxyHeaders, 0);
      });

      it(`refuses a token for A when ${source} carries B`, async () => {
        use({ trustedProxies: ['127.0.0.1'], proxyHeader: source });
        const res = await tlsRequest(pki, server, { headers: { authorization: `Bearer ${await tokenFor(clientA)}`, ...header(clientB) } });
        const d = 'access token is bound to a different certificate';
        expectRefusal(res, 401, 'invalid_token', d, bearerError(d));
      });

      for (const [other, otherHeader] of formats.filter(([f]) => f !== source)) {
        it(`refuses ${other} injected through a proxy configured for ${source}, before the handler`, async () => {
          use({ trustedProxies: ['127.0.0.1'], proxyHeader: source });
          const name = Object.keys(otherHeader(clientA))[0];
          const res = await tlsRequest(pki, server, { headers: { authorization: `Bearer ${await tokenFor(clientA)}`, ...otherHeader(clientA) } });
          const d = `client certificate header ${name} is not accepted: the proxy passes the certificate in ${Object.keys(header(clientA))[0]}`;
          expectRefusal(res, 400, 'invalid_request', d, `Bearer error="invalid_request", error_description="${d}", ${ALGS}`);
          assert.equal(handled.length, 0);
        });
      }
    }

    it('answers invalid_request to a malformed header from a trusted proxy', async () => {
      use({ trustedProxies: ['127.0.0.1'], proxyHeader: 'client-cert' });
      const res = await tlsRequest(pki, server, { headers: { authorization: `Bearer ${await tokenFor(clientA)}`, 'client-cert': ':bm90IGEgY2VydA:' } });
      const d = 'Client-Cert does not hold a DER X.509 certificate';
      expectRefusal(res, 400, 'invalid_request', d, `Bearer error="invalid_request", error_description="${d}", ${ALGS}`);
      assert.equal(handled.length, 0);
    });
  });

  describe('both bindings: cnf.x5t#S256 and cnf.jkt must both hold', () => {
    let dpopKey: ProofKey;
    let token: string;
    const url = () => `https://localhost:${server.port}/settlements`;
    before(async () => {
      dpopKey = await proofKey();
      token = await accessToken(key, { cnf: { 'x5t#S256': x5tS256(clientA.der), jkt: await jwkThumbprint(dpopKey.jwk) } });
    });

    it('accepts the right certificate with the right DPoP key', async () => {
      use({ origin: `https://localhost:${server.port}` });
      const proof = await dpopProof(dpopKey, { htu: url(), accessToken: token });
      const res = await tlsRequest(pki, server, { client: clientA, path: '/settlements', headers: { authorization: `DPoP ${token}`, dpop: proof, host: `localhost:${server.port}` } });
      assert.equal(res.status, 200);
      assert.equal(res.json().binding, 'dpop');
      assert.equal(handled[0].certificate?.thumbprint, x5tS256(clientA.der));
      assert.equal(handled[0].dpopJkt, await jwkThumbprint(dpopKey.jwk));
    });

    it('refuses the right DPoP key over the wrong certificate', async () => {
      use({ origin: `https://localhost:${server.port}` });
      const proof = await dpopProof(dpopKey, { htu: url(), accessToken: token });
      const res = await tlsRequest(pki, server, { client: clientB, path: '/settlements', headers: { authorization: `DPoP ${token}`, dpop: proof, host: `localhost:${server.port}` } });
      const d = 'access token is bound to a different certificate';
      expectRefusal(res, 401, 'invalid_token', d, `DPoP error="invalid_token", error_description="${d}", algs="ES256 PS256 EdDSA", Bearer`);
    });

    it('refuses the right certificate with another DPoP key', async () => {
      use({ origin: `https://localhost:${server.port}` });
      const proof = await dpopProof(await proofKey(), { htu: url(), accessToken: token });
      const res = await tlsRequest(pki, server, { client: clientA, path: '/settlements', headers: { authorization: `DPoP ${token}`, dpop: proof, host: `localhost:${server.port}` } });
      const d = 'DPoP proof key does not match the access token cnf.jkt';
      expectRefusal(res, 401, 'invalid_token', d, `DPoP error="invalid_token", error_description="${d}", algs="ES256 PS256 EdDSA", Bearer`);
    });
  });
});
