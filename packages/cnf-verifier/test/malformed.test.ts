import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createVerifier, jwkThumbprint, VerifierError, type VerifiableRequest } from '@certbound/cnf-verifier';
import { accessToken, AUDIENCE, ISSUER, proofKey, signingKey } from './helpers/tokens.ts';

// Deterministic pseudo-random garbage: header-safe bytes, separators, quotes, base64 fragments.
function* garbage(seed: number): Generator<string> {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) & 0x7fffffff);
  const pieces = [':', ',', ';', '=', '"', '\\', '%', '%ZZ', ' ', '.', 'Cert=', 'Chain=', '-----BEGIN CERTIFICATE-----', '-----END CERTIFICATE-----', 'MIIB', 'eyJ', '==', 'Bearer ', 'DPoP '];
  for (;;) {
    let s = '';
    const n = next() % 12;
    for (let i = 0; i < n; i++) s += next() % 3 === 0 ? pieces[next() % pieces.length] : randomBytes(1 + (next() % 6)).toString('base64url');
    yield s;
  }
}

describe('malformed input only ever produces typed errors (never a raw exception)', () => {
  it('survives 2000 garbage requests', async () => {
    const key = await signingKey();
    const client = await proofKey();
    const dpopToken = await accessToken(key, { cnf: { jkt: await jwkThumbprint(client.jwk) } });
    const mtlsToken = await accessToken(key, { cnf: { 'x5t#S256': 'x'.repeat(43) } });
    // One verifier per proxy header format, each fed its own header (and, every other time, another format's).
    const verifiers = (['client-cert', 'xfcc', 'nginx'] as const).map((proxyHeader) =>
      createVerifier({ issuer: ISSUER, audience: AUDIENCE, origin: AUDIENCE, jwks: { keys: [key.publicJwk] }, trustedProxies: ['10.0.0.1'], proxyHeader }));
    const g = garbage(42);
    const pick = () => g.next().value as string;
    for (let i = 0; i < 2000; i++) {
      const headers: Record<string, string> = {};
      const choice = i % 5;
      if (choice === 0) headers.authorization = pick();
      if (choice === 1) Object.assign(headers, { authorization: `DPoP ${dpopToken}`, dpop: pick() });
      if (choice === 2) Object.assign(headers, { authorization: `Bearer ${mtlsToken}`, 'client-cert': pick(), 'client-cert-chain': pick() });
      if (choice === 3) Object.assign(headers, { authorization: `Bearer ${mtlsToken}`, 'x-forwarded-client-cert': pick() });
      if (choice === 4) Object.assign(headers, { authorization: `Bearer ${mtlsToken}`, 'x-ssl-client-cert': pick() });
      const req = { method: 'GET', url: '/', headers: { host: 'api.test', ...headers }, socket: { remoteAddress: '10.0.0.1' } } as unknown as VerifiableRequest;
      const verifier = verifiers[choice >= 2 ? (choice - 2 + (i % 10 >= 5 ? 1 : 0)) % 3 : 0];
      const outcome = await verifier.verify(req).then(
        () => 'accepted',
        (err: unknown) => err,
      );
      assert.ok(outcome instanceof VerifierError, `request ${i} (${JSON.stringify(headers).slice(0, 200)}) gave ${String(outcome)}`);
      assert.ok([400, 401].includes(outcome.status));
      assert.ok(outcome.wwwAuthenticate.length > 0);
    }
  });
});
