import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createVerifier, type VerifierOptions } from '@certbound/cnf-verifier';

const base: VerifierOptions = { issuer: 'https://as.test', audience: 'https://api.test', origin: 'https://api.test', jwks: { keys: [] } };

describe('createVerifier checks its options once, naming the option', () => {
  const cases: Array<[string, Partial<VerifierOptions> | Record<string, unknown>, string]> = [
    ['a missing issuer', { issuer: '' }, 'issuer: must be a non-empty string'],
    ['no audience', { audience: undefined }, 'audience: must be a non-empty string or array of strings'],
    ['an empty audience list', { audience: [] }, 'audience: must be a non-empty string or array of strings'],
    ['DPoP accepted without an origin', { origin: undefined }, 'origin: required when DPoP is accepted (the external origin clients call, e.g. https://api.example.com), or set dpop: false'],
    ['DPoP options without an origin', { origin: undefined, dpop: { iatWindowSeconds: 30 } }, 'origin: required when DPoP is accepted (the external origin clients call, e.g. https://api.example.com), or set dpop: false'],
    ['an empty origin list', { origin: [] }, 'origin: must be an origin or a non-empty array of origins'],
    ['an origin that is a host name', { origin: 'api.test' }, 'origin: "api.test" is not an http(s) origin (scheme, host and port only)'],
    ['an origin with a path', { origin: 'https://api.test/v1' }, 'origin: "https://api.test/v1" is not an http(s) origin (scheme, host and port only)'],
    ['an origin with a query', { origin: ['https://api.test', 'https://b.test?x=1'] }, 'origin[1]: "https://b.test?x=1" is not an http(s) origin (scheme, host and port only)'],
    ['an origin with credentials', { origin: 'https://u:p@api.test' }, 'origin: "https://u:p@api.test" is not an http(s) origin (scheme, host and port only)'],
    ['an origin of another scheme', { origin: 'wss://api.test' }, 'origin: "wss://api.test" is not an http(s) origin (scheme, host and port only)'],
    ['HS256 in the algorithms', { algorithms: ['ES256', 'HS256'] }, 'algorithms[1]: HS256 is symmetric; only asymmetric algorithms are accepted'],
    ['none in the algorithms', { algorithms: ['none'] }, 'algorithms[0]: "none" is never accepted'],
    ['an unknown algorithm', { algorithms: ['ES257'] }, 'algorithms[0]: "ES257" is not a supported asymmetric JWS algorithm'],
    ['HS512 in the DPoP algorithms', { dpop: { algorithms: ['HS512'] } }, 'dpop.algorithms[0]: HS512 is symmetric; only asymmetric algorithms are accepted'],
    ['a negative clockTolerance', { clockTolerance: -1 }, 'clockTolerance: must be a non-negative number of seconds'],
    ['an unknown mode', { mode: 'lenient' }, "mode: must be 'strict' or 'permissive'"],
    ['neither jwks nor introspection', { jwks: undefined }, 'jwks: required unless introspection is configured'],
    ['a JWKS URL over plain http', { jwks: 'http://as.test/jwks' }, 'jwks.url: must be https (http is allowed only on a loopback host)'],
    ['a JWKS URL that is not a URL', { jwks: { url: 'as.test/jwks' } }, 'jwks.url: "as.test/jwks" is not a URL'],
    ['two ways to reach the JWKS', { jwks: { url: 'https://as.test/jwks', ca: 'x', fetch: async () => new Response() } }, 'jwks: give at most one of ca, dispatcher, fetch'],
    ['a short nonce secret', { dpop: { nonce: { secret: 'short' } } }, 'dpop.nonce.secret: must be at least 32 bytes'],
    ['a bad iat window', { dpop: { iatWindowSeconds: Number.NaN } }, 'dpop.iatWindowSeconds: must be a non-negative number of seconds'],
    ['a replay store without add', { dpop: { replayStore: {} } }, 'dpop.replayStore: must have add(key, ttlMs)'],
    ['a host name as trusted proxy', { trustedProxies: ['lb.internal'], proxyHeader: 'nginx' }, 'trustedProxies[0]: "lb.internal" is not an IP address or CIDR'],
    ['trusted proxies without their header format', { trustedProxies: ['10.0.0.1'] }, "proxyHeader: required with trustedProxies, one of 'client-cert', 'xfcc', 'nginx' (the one format the proxy sets)"],
    ['an unknown proxy header format', { trustedProxies: ['10.0.0.1'], proxyHeader: 'haproxy' }, "proxyHeader: \"haproxy\" is not one of 'client-cert', 'xfcc', 'nginx'"],
    ['an introspection endpoint over http', { introspection: { endpoint: 'http://as.test/introspect', clientId: 'rs', fetch: async () => new Response() } }, 'introspection.endpoint: must be https'],
    ['introspection without client authentication', { introspection: { endpoint: 'https://as.test/introspect', clientId: 'rs' } }, 'introspection: give exactly one of clientCertificate+clientKey, dispatcher, fetch'],
    ['an introspection certificate without key', { introspection: { endpoint: 'https://as.test/introspect', clientId: 'rs', clientCertificate: 'pem' } }, 'introspection.clientCertificate: needs introspection.clientKey as well'],
  ];
  for (const [name, patch, message] of cases) {
    it(`refuses ${name}`, () => {
      assert.throws(() => createVerifier({ ...base, ...patch }), { name: 'TypeError', message });
    });
  }

  it('accepts a minimal configuration and the documented defaults', () => {
    assert.doesNotThrow(() => createVerifier(base));
    assert.doesNotThrow(() => createVerifier({ ...base, jwks: 'https://as.test/jwks', algorithms: ['ES256', 'Ed25519', 'RS256'], dpop: false, mode: 'permissive' }));
    assert.doesNotThrow(() => createVerifier({ ...base, jwks: 'http://localhost:8080/jwks' }));
    assert.doesNotThrow(() => createVerifier({ ...base, origin: ['https://api.test/', 'http://localhost:9443'] }));
    // No DPoP, no htu: the origin is not needed.
    assert.doesNotThrow(() => createVerifier({ ...base, origin: undefined, dpop: false }));
  });
});
