// KEY_ENCRYPTION_KEY (issue 10): generated into DATA_DIR only by the dev bootstrap, where the
// banner says it is a development key; required in every other shape.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { generatedKekFile } from '../src/keys/kek.ts';
import { quickStart } from '../src/dev/registrations.ts';
import type { DevPki } from '../src/dev/pki.ts';
import { configError } from './config-error.ts';

const TLS = { TLS_CERT_FILE: '/etc/certbound/server.pem', TLS_KEY_FILE: '/etc/certbound/server-key.pem', CLIENT_CA_FILE: '/etc/certbound/clients.pem' };
const DATABASE = { DATABASE_URL: 'postgres://certbound@db.internal/certbound' };
const KEY = { KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') };

describe('KEY_ENCRYPTION_KEY is required whenever the dev bootstrap is off', () => {
  it('is required with TLS_CERT_FILE (no dev bootstrap), even on embedded storage', () => {
    const err = configError(TLS);
    assert.equal(err.variable, 'KEY_ENCRYPTION_KEY');
    assert.equal(err.message, 'KEY_ENCRYPTION_KEY: must be set when TLS_CERT_FILE is set (no dev bootstrap): a key generated into DATA_DIR would sit next to the signing keys it encrypts; make one with `openssl rand -base64 32` (32 random bytes, base64)');
  });

  it('is required with DATABASE_URL, even with the dev PKI', () => {
    const err = configError(DATABASE);
    assert.equal(err.variable, 'KEY_ENCRYPTION_KEY');
    assert.equal(err.message, 'KEY_ENCRYPTION_KEY: must be set when DATABASE_URL is set: a key generated into one instance\'s DATA_DIR would sit next to the keys and be unknown to the other instances; make one with `openssl rand -base64 32` (32 random bytes, base64)');
  });

  it('is required with both, naming TLS_CERT_FILE', () => {
    assert.match(configError({ ...TLS, ...DATABASE }).message, /^KEY_ENCRYPTION_KEY: must be set when TLS_CERT_FILE is set/);
  });

  it('counts a blank value as unset', () => {
    assert.equal(configError({ ...TLS, KEY_ENCRYPTION_KEY: '  ' }).variable, 'KEY_ENCRYPTION_KEY');
  });

  it('loads every production shape that sets it', () => {
    for (const env of [{ ...TLS, ...KEY }, { ...DATABASE, ...KEY }, { ...TLS, ...DATABASE, ...KEY }]) {
      const config = loadConfig(env);
      assert.equal(config.keyEncryptionKey, KEY.KEY_ENCRYPTION_KEY);
      assert.equal(generatedKekFile({ value: config.keyEncryptionKey, dataDir: config.dataDir }), undefined);
    }
  });

  it('is optional for the dev bootstrap (npm start), whose key is generated into DATA_DIR', () => {
    const config = loadConfig({ DATA_DIR: '/tmp/certbound-dev' });
    assert.equal(config.devBootstrap, true);
    assert.equal(config.keyEncryptionKey, undefined);
    assert.equal(generatedKekFile({ value: config.keyEncryptionKey, dataDir: config.dataDir }), '/tmp/certbound-dev/kek');
  });
});

describe('the dev start banner', () => {
  const dir = '/srv/app/.data/pki';
  const pki = {
    dir, caFile: join(dir, 'ca.pem'), demoClientCertFile: join(dir, 'demo-client.pem'), demoClientKeyFile: join(dir, 'demo-client-key.pem'),
  } as DevPki;

  it('says that the generated key in DATA_DIR is a development key', () => {
    const banner = quickStart(pki, 'https://localhost:8444/token', '/srv/app/.data/kek', '/srv/app');
    assert.match(banner, /Development key: the signing keys are encrypted with \.data\/kek, a key generated next to the data it\nprotects\. Never use it in production: set KEY_ENCRYPTION_KEY \(openssl rand -base64 32\)/);
  });

  it('says nothing of it when KEY_ENCRYPTION_KEY is set', () => {
    assert.doesNotMatch(quickStart(pki, 'https://localhost:8444/token', undefined, '/srv/app'), /Development key|KEY_ENCRYPTION_KEY/);
  });
});
