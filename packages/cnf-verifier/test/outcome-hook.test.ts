// The onOutcome hook: called exactly once per verify() with accepted/refused, the refusal's code
// and the binding kind, over real TLS with certificates made at test time; a hook that throws (or
// rejects) changes nothing about the answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createVerifier, x5tS256, type VerificationOutcome, type Verifier, type VerifierOptions } from '@certbound/cnf-verifier';
import { nodeAuth } from '@certbound/cnf-verifier/node';
import { createTestPki, type Issued, type TestPki } from './helpers/pki.ts';
import { startTlsServer, tlsRequest, type TestServer } from './helpers/tls.ts';
import { accessToken, AUDIENCE, ISSUER, signingKey, type SigningKey } from './helpers/tokens.ts';

describe('onOutcome', () => {
  let pki: TestPki;
  let key: SigningKey;
  let clientA: Issued;
  let clientB: Issued;
  let server: TestServer;
  let verifier: Verifier;
  let outcomes: VerificationOutcome[] = [];

  const use = (extra: Partial<VerifierOptions> = {}) => {
    outcomes = [];
    verifier = createVerifier({
      issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] }, onOutcome: (o) => { outcomes.push(o); }, ...extra,
    });
  };
  const tokenFor = (client: Issued) => accessToken(key, { cnf: { 'x5t#S256': x5tS256(client.der) } });

  before(async () => {
    pki = createTestPki();
    key = await signingKey();
    clientA = pki.issue('client-a');
    clientB = pki.issue('client-b');
    use();
    server = await startTlsServer(pki, (req, res) => {
      void nodeAuth(verifier, (_req, res) => res.end('{}'))(req, res);
    });
  });
  after(async () => {
    await server.close();
    pki.cleanup();
  });

  it('reports an accepted certificate-bound request', async () => {
    use();
    const res = await tlsRequest(pki, server, { client: clientA, headers: { authorization: `Bearer ${await tokenFor(clientA)}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(outcomes, [{ outcome: 'accepted', binding: 'mtls' }]);
  });

  it('reports a refusal with its code and the binding the token asked for', async () => {
    use();
    const res = await tlsRequest(pki, server, { client: clientB, headers: { authorization: `Bearer ${await tokenFor(clientA)}` } });
    assert.equal(res.status, 401);
    assert.deepEqual(outcomes, [{ outcome: 'refused', error: 'invalid_token', binding: 'mtls' }]);
  });

  it('reports a refusal before any claim was read without a binding', async () => {
    use();
    const res = await tlsRequest(pki, server, { client: clientA, headers: { authorization: 'Bearer not-a-jwt' } });
    assert.equal(res.status, 401);
    assert.deepEqual(outcomes, [{ outcome: 'refused', error: 'invalid_token' }]);
  });

  it('a hook that throws or rejects changes nothing', async () => {
    const rejecting = async () => { throw new Error('async hook broke'); };
    for (const onOutcome of [() => { throw new Error('hook broke'); }, rejecting]) {
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a hook typed `void` may still hand back a rejected promise: that is what is tested here
      use({ onOutcome });
      const ok = await tlsRequest(pki, server, { client: clientA, headers: { authorization: `Bearer ${await tokenFor(clientA)}` } });
      assert.equal(ok.status, 200);
      const refused = await tlsRequest(pki, server, { client: clientB, headers: { authorization: `Bearer ${await tokenFor(clientA)}` } });
      assert.equal(refused.status, 401);
      assert.equal((refused.json() as { error?: string }).error, 'invalid_token');
    }
  });

  it('refuses an onOutcome that is not a function at creation', () => {
    assert.throws(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE, dpop: false, jwks: { keys: [key.publicJwk] }, onOutcome: 'count' as never }), /onOutcome: must be a function/);
  });
});
