import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createTestPki } from './helpers/pki.ts';
import { jwkThumbprint, normalizeHtu, x5tS256 } from '@certbound/cnf-verifier';

describe('RFC 7638 §3.1 JWK thumbprint', () => {
  it('reproduces the example thumbprint', async () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    assert.equal(await jwkThumbprint(jwk), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });
});

describe('RFC 8705 §3.1 x5t#S256', () => {
  it('is the base64url SHA-256 of the DER certificate', () => {
    const der = Buffer.from('not really a certificate, the hash does not care');
    assert.equal(x5tS256(der), createHash('sha256').update(der).digest('base64url'));
    assert.doesNotMatch(x5tS256(der), /[=+/]/);
  });

  it('equals the SHA-256 openssl computes over a certificate\'s DER (the one x5t#S256 of certbound, server included)', () => {
    const pki = createTestPki();
    try {
      const client = pki.issue('thumbprint');
      const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: client.der });
      assert.equal(x5tS256(client.der), digest.toString('base64url'));
      assert.match(x5tS256(client.der), /^[A-Za-z0-9_-]{43}$/);
    } finally {
      pki.cleanup();
    }
  });
});

describe('RFC 9449 §4.3 step 9 htu normalisation', () => {
  const cases: Array<[string, string | undefined]> = [
    ['https://API.Example.COM/a/b?x=1#f', 'https://api.example.com/a/b'],
    ['HTTPS://api.example.com:443/a', 'https://api.example.com/a'],
    ['http://api.example.com:80/a', 'http://api.example.com/a'],
    ['https://api.example.com:8443/a', 'https://api.example.com:8443/a'],
    ['https://api.example.com', 'https://api.example.com/'],
    ['https://api.example.com/a/./b/../c', 'https://api.example.com/a/c'],
    ['https://api.example.com/%7euser/%2f', 'https://api.example.com/~user/%2F'],
    ['ftp://api.example.com/a', undefined],
    ['not a url', undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${input} → ${expected}`, () => assert.equal(normalizeHtu(input), expected));
  }
});
