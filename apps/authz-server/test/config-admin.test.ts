// ADMIN_SUBJECT_DN / ADMIN_SAN_URI: the admin client's certificate, checked once at start.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../src/config.ts';

describe('ADMIN_SUBJECT_DN and ADMIN_SAN_URI', () => {
  it('are unset by default', () => {
    const config = loadConfig({});
    assert.equal(config.adminSubjectDn, undefined);
    assert.equal(config.adminSanUri, undefined);
  });

  it('take a distinguished name or a URI', () => {
    assert.equal(loadConfig({ ADMIN_SUBJECT_DN: 'CN=ops admin,O=Example Bank' }).adminSubjectDn, 'CN=ops admin,O=Example Bank');
    assert.equal(loadConfig({ ADMIN_SAN_URI: 'spiffe://example.org/ns/ops/sa/admin' }).adminSanUri, 'spiffe://example.org/ns/ops/sa/admin');
  });

  it('refuse both at once: a client registers exactly one subject matcher', () => {
    assert.throws(() => loadConfig({ ADMIN_SUBJECT_DN: 'CN=a', ADMIN_SAN_URI: 'spiffe://x/y' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'ADMIN_SAN_URI' && /not both/.test(err.message));
  });

  it('refuse a malformed DN or URI, naming the variable', () => {
    assert.throws(() => loadConfig({ ADMIN_SUBJECT_DN: 'CN=a,,' }), (err: unknown) => err instanceof ConfigError && err.variable === 'ADMIN_SUBJECT_DN');
    assert.throws(() => loadConfig({ ADMIN_SAN_URI: 'not a uri' }), { message: 'ADMIN_SAN_URI: "not a uri" is not an absolute URI' });
  });

  it('refuse a set but empty or blank matcher, naming the variable (an empty DN is every SAN-only certificate\'s subject)', () => {
    for (const value of ['', ' ', '\t  ']) {
      assert.throws(() => loadConfig({ ADMIN_SUBJECT_DN: value }), { name: 'ConfigError', message: 'ADMIN_SUBJECT_DN: is set but empty; unset it or give the admin certificate\'s subject matcher' });
      assert.throws(() => loadConfig({ ADMIN_SAN_URI: value }), { name: 'ConfigError', message: 'ADMIN_SAN_URI: is set but empty; unset it or give the admin certificate\'s subject matcher' });
    }
  });

  it('refuse a DN with an RFC 4518 §2.4 prohibited character, naming the variable and the character', () => {
    assert.throws(() => loadConfig({ ADMIN_SUBJECT_DN: 'CN=ops\uE000admin,O=Example Bank' }), {
      name: 'ConfigError',
      message: 'ADMIN_SUBJECT_DN: CN value: prohibited character U+E000 (RFC 4518 §2.4); this DN could never match a certificate',
    });
  });
});
