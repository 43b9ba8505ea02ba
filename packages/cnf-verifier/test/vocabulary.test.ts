// The verifier's shared vocabulary: the private JWK members (every RFC 7517/7518/8037 one and
// the AKP `priv`), the scope-token grammar and the one IP address / CIDR parser, which the
// authorization server imports rather than copying.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PRIVATE_JWK_MEMBERS, SCOPE_TOKEN, parseAddressRange, privateJwkMember } from '@certbound/cnf-verifier';

describe('private JWK members', () => {
  it('lists every member that holds private key material', () => {
    assert.deepEqual([...PRIVATE_JWK_MEMBERS].sort(), ['d', 'dp', 'dq', 'k', 'oth', 'p', 'priv', 'q', 'qi']);
  });

  it('names the first private member present, whatever its value, and nothing for a public key', () => {
    assert.equal(privateJwkMember({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }), undefined);
    assert.equal(privateJwkMember({ kty: 'OKP', crv: 'Ed25519', x: 'x', d: 'secret' }), 'd');
    assert.equal(privateJwkMember({ kty: 'AKP', alg: 'ML-DSA-44', pub: 'p', priv: 'secret' }), 'priv');
    assert.equal(privateJwkMember({ kty: 'RSA', n: 'n', e: 'AQAB', oth: null }), 'oth');
    assert.equal(privateJwkMember(JSON.parse('{"kty":"oct","k":""}') as object), 'k');
  });

  it('ignores inherited names', () => {
    assert.equal(privateJwkMember(Object.create({ d: 'inherited' }) as object), undefined);
  });
});

describe('RFC 6749 §3.3 scope-token', () => {
  it('accepts visible ASCII but space, double quote and backslash', () => {
    for (const ok of ['read', 'settlements:write', 'https://api.example/x', '!#[]~']) assert.ok(SCOPE_TOKEN.test(ok), ok);
    for (const bad of ['', 'a b', 'a"b', 'a\\b', 'caf\u00e9', 'a\nb', 'a\x7f']) assert.ok(!SCOPE_TOKEN.test(bad), JSON.stringify(bad));
  });
});

describe('IP address and CIDR ranges', () => {
  it('parses addresses and ranges of both families', () => {
    assert.deepEqual(parseAddressRange('10.0.0.1'), { address: '10.0.0.1', family: 4, bits: undefined });
    assert.deepEqual(parseAddressRange(' 10.0.0.0/8 '), { address: '10.0.0.0', family: 4, bits: 8 });
    assert.deepEqual(parseAddressRange('2001:db8::/32'), { address: '2001:db8::', family: 6, bits: 32 });
    assert.deepEqual(parseAddressRange('::1/128'), { address: '::1', family: 6, bits: 128 });
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'localhost', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/-1', '10.0.0.0/1e1', '10.0.0.256']) {
      assert.equal(parseAddressRange(bad), undefined, bad);
    }
  });

  it('never throws, and every accepted prefix fits its family', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.ipV4().chain((ip) => fc.string().map((s) => `${ip}/${s}`)), fc.ipV6().chain((ip) => fc.nat(200).map((n) => `${ip}/${n}`))), (entry) => {
      const range = parseAddressRange(entry);
      if (range?.bits !== undefined) assert.ok(range.bits <= (range.family === 4 ? 32 : 128));
    }));
  });
});
