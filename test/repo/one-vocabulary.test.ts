// Issue 11's "one vocabulary", checked on the tree so a copy cannot creep back: each list is
// spelled only in oidc/vocabulary.ts or the verifier's vocabulary.ts, the CIDR parser, the TLS
// socket test and the x5t#S256 hash each live in one module, no Map is evicted by hand (lru-cache
// is the one LRU), and request bodies are read only through http/body.ts (raw-body in the demo).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { readSources, repoRoot as root } from '../support/sources.ts';

const text = new Map([...await readSources()].map(([file, source]) => [relative(root, file), source] as const));

/** The source files (repository paths) in which `pattern` occurs. */
function filesWith(pattern: RegExp): string[] {
  return [...text].filter(([, source]) => pattern.test(source)).map(([file]) => file).sort();
}

const SERVER_VOCABULARY = 'apps/authz-server/src/oidc/vocabulary.ts';
const VERIFIER_VOCABULARY = 'packages/cnf-verifier/src/vocabulary.ts';

describe('one vocabulary (issue 11)', () => {
  const named: Array<[string, RegExp, string[]]> = [
    ['the client authentication methods', /\[\s*'tls_client_auth',\s*'self_signed_tls_client_auth',\s*'private_key_jwt'/, [SERVER_VOCABULARY]],
    ['the certificate authentication methods', /Set(<[^>]*>)?\(\[\s*'tls_client_auth',\s*'self_signed_tls_client_auth'\s*\]\)/, [SERVER_VOCABULARY]],
    ['the subject matchers', /'tls_client_auth_subject_dn',\s*'tls_client_auth_san_dns',/, [SERVER_VOCABULARY]],
    ['the static scopes', /\[\s*'openid',\s*'offline_access'\s*\]/, [SERVER_VOCABULARY]],
    ['the signing algorithms', /\[\s*'ES256',\s*'PS256',\s*'EdDSA'\s*\]/, [VERIFIER_VOCABULARY]],
    ['the private JWK members', /'dp',\s*'dq',\s*'qi'/, [VERIFIER_VOCABULARY]],
    ['the RFC 6749 scope-token grammar', /\\x21\\x23-\\x5b\\x5d-\\x7e/, [VERIFIER_VOCABULARY]],
    ['the IP address / CIDR parser', /addSubnet|family === 4 \? 32 : 128|family === 6 \? 128 : 32/, ['packages/cnf-verifier/src/trusted-proxies.ts']],
    ['the TLS socket test', /isSessionReused === 'function'|getPeerX509Certificate === 'function'/, ['packages/cnf-verifier/src/certificate.ts']],
  ];
  for (const [what, pattern, where] of named) {
    it(`names ${what} in ${where.join(' and ')} only`, () => {
      assert.deepEqual(filesWith(pattern), where);
    });
  }

  it('hashes a certificate for x5t#S256 only in the verifier (mtls/thumbprint.ts calls it)', () => {
    assert.deepEqual(filesWith(/createHash\('sha256'\)\.update\((der|cert\.raw|[a-z]+\.raw|Buffer\.from\(der, 'base64'\))\)/), ['packages/cnf-verifier/src/thumbprint.ts']);
  });

  it('evicts no Map by hand: lru-cache is the one LRU', () => {
    assert.deepEqual(filesWith(/\.keys\(\)\.next\(\)\.value/), []);
  });

  it('reads request bodies only through http/body.ts (and raw-body in the demo)', () => {
    assert.deepEqual(filesWith(/for await \(const chunk of (ctx\.)?req\b|\.iterator\(\{ destroyOnReturn/), []);
    assert.deepEqual(filesWith(/from 'raw-body'/), ['apps/authz-server/src/http/body.ts', 'apps/resource-server-demo/src/app.ts']);
  });
});
