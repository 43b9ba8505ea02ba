// REVOCATION_CHECK, CLIENT_CRL_FILE and REVOCATION_TIMEOUT_MS as loadConfig reads them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../../src/config.ts';

describe('revocation configuration', () => {
  it('defaults to soft checking with a 2 s timeout and no CRL file', () => {
    const config = loadConfig({});
    assert.equal(config.revocationCheck, 'soft');
    assert.equal(config.revocationTimeoutMs, 2000);
    assert.equal(config.clientCrlFile, undefined);
  });

  it('reads hard, off, a CRL file and a timeout', () => {
    const config = loadConfig({ REVOCATION_CHECK: 'hard', CLIENT_CRL_FILE: '/etc/certbound/clients.crl.pem', REVOCATION_TIMEOUT_MS: '500' });
    assert.equal(config.revocationCheck, 'hard');
    assert.equal(config.clientCrlFile, '/etc/certbound/clients.crl.pem');
    assert.equal(config.revocationTimeoutMs, 500);
    assert.equal(loadConfig({ REVOCATION_CHECK: 'off' }).revocationCheck, 'off');
  });

  it('refuses anything else, naming the variable', () => {
    assert.throws(() => loadConfig({ REVOCATION_CHECK: 'strict' }), (err: unknown) =>
      err instanceof ConfigError && err.variable === 'REVOCATION_CHECK' && err.message === 'REVOCATION_CHECK: "strict" is not one of soft, hard, off');
    assert.throws(() => loadConfig({ REVOCATION_TIMEOUT_MS: '2s' }), (err: unknown) =>
      err instanceof ConfigError && err.variable === 'REVOCATION_TIMEOUT_MS');
  });
});
