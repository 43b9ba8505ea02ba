import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config.ts';

function fails(env: Record<string, string>, variable: string, message: RegExp) {
  assert.throws(() => loadConfig(env), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.variable, variable);
    assert.match(err.message, message);
    assert.ok(err.message.startsWith(`${variable}: `));
    return true;
  });
}

describe('configuration from the environment', () => {
  it('has the documented dev defaults', () => {
    const config = loadConfig({});
    assert.equal(config.issuer, 'https://localhost:8443');
    assert.equal(config.mtlsBaseUrl, 'https://localhost:8444');
    assert.equal(config.publicPort, 8443);
    assert.equal(config.mtlsPort, 8444);
    assert.ok(config.dataDir.endsWith('.data'));
    assert.equal(config.devBootstrap, true);
    assert.equal(config.databaseUrl, undefined);
    assert.ok(Object.isFrozen(config));
  });

  it('derives the mutual-TLS origin from ISSUER and MTLS_PORT', () => {
    assert.equal(loadConfig({ ISSUER: 'https://as.example.com', MTLS_PORT: '9444' }).mtlsBaseUrl, 'https://as.example.com:9444');
  });

  it('names the variable and the problem', () => {
    fails({ PUBLIC_PORT: 'eighty' }, 'PUBLIC_PORT', /"eighty" is not a TCP port/);
    fails({ PUBLIC_PORT: '9000', MTLS_PORT: '9000' }, 'MTLS_PORT', /must differ from PUBLIC_PORT/);
    fails({ ISSUER: 'http://localhost:8443' }, 'ISSUER', /must be an https URL/);
    fails({ ISSUER: 'not a url' }, 'ISSUER', /is not a URL/);
    fails({ TLS_CERT_FILE: '/x.pem' }, 'TLS_KEY_FILE', /must be set together/);
    fails({ TLS_CERT_FILE: '/x.pem', TLS_KEY_FILE: '/k.pem' }, 'CLIENT_CA_FILE', /must be set when TLS_CERT_FILE is set/);
    fails({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /"loud" is not one of/);
    fails({ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', /scheme mysql: is not one of postgres:, postgresql:/);
    fails({ REDIS_URL: 'http://x' }, 'REDIS_URL', /scheme http:/);
    fails({ TRUSTED_PROXIES: '10.0.0.1, 10.0.0.0/33' }, 'TRUSTED_PROXIES', /"10.0.0.0\/33" is not an IP address or CIDR range/);
    fails({ DATABASE_SCHEMA: 'Robert"; drop' }, 'DATABASE_SCHEMA', /not a plain lower-case SQL identifier/);
    fails({ ACCESS_TOKEN_TTL: '-5' }, 'ACCESS_TOKEN_TTL', /not a positive integer/);
    fails({ DATABASE_URL: 'postgres://db/x', TLS_CERT_FILE: '/c', TLS_KEY_FILE: '/k', CLIENT_CA_FILE: '/ca' }, 'KEY_ENCRYPTION_KEY', /must be set/);
  });

  it('reads trusted proxies as a list', () => {
    assert.deepEqual(loadConfig({ TRUSTED_PROXIES: '10.0.0.1, 2001:db8::/32', TRUSTED_PROXY_HEADER: 'nginx' }).trustedProxies, ['10.0.0.1', '2001:db8::/32']);
  });

  describe('TRUSTED_PROXY_HEADER: the one certificate header format of TRUSTED_PROXIES (issue 10)', () => {
    it('is required when TRUSTED_PROXIES is set', () => {
      fails({ TRUSTED_PROXIES: '10.0.0.1' }, 'TRUSTED_PROXY_HEADER',
        /^TRUSTED_PROXY_HEADER: must be set when TRUSTED_PROXIES is set: the one header the proxy passes the client certificate in \(client-cert, xfcc, nginx\)$/);
    });

    it('is one of client-cert, xfcc, nginx', () => {
      fails({ TRUSTED_PROXIES: '10.0.0.1', TRUSTED_PROXY_HEADER: 'all' }, 'TRUSTED_PROXY_HEADER', /^TRUSTED_PROXY_HEADER: "all" is not one of client-cert, xfcc, nginx$/);
      fails({ TRUSTED_PROXIES: '10.0.0.1', TRUSTED_PROXY_HEADER: 'nginx,xfcc' }, 'TRUSTED_PROXY_HEADER', /"nginx,xfcc" is not one of/);
      fails({ TRUSTED_PROXY_HEADER: 'X-SSL-Client-Cert' }, 'TRUSTED_PROXY_HEADER', /"X-SSL-Client-Cert" is not one of/);
      for (const format of ['client-cert', 'xfcc', 'nginx'] as const) {
        assert.equal(loadConfig({ TRUSTED_PROXIES: '10.0.0.1', TRUSTED_PROXY_HEADER: format }).trustedProxyHeader, format);
      }
    });

    it('is unset, and not needed, without trusted proxies', () => {
      assert.equal(loadConfig({}).trustedProxyHeader, undefined);
      assert.equal(loadConfig({ TRUSTED_PROXIES: ' ' }).trustedProxyHeader, undefined);
    });
  });
});
