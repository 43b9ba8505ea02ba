// config.ts's store-connection block (issue 14 items 3 and 4): exactly one way to name Redis,
// Sentinel needs its master name, host:port lists are checked, TLS files come in pairs and only
// where they can be used, and REDIS_WAIT_REPLICAS defaults to 1 on Sentinel. Each refusal names
// the variable to fix.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, hostPortList, loadConfig } from '../src/config.ts';

const refusal = (variable: string, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ConfigError, String(err));
  assert.equal(err.variable, variable);
  assert.match(err.message, message);
  return true;
};

describe('Redis deployment settings', () => {
  it('reads REDIS_URL, REDIS_SENTINELS + REDIS_SENTINEL_NAME or REDIS_CLUSTER_NODES into one target', () => {
    assert.deepEqual(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/0' }).redis, { mode: 'url', url: 'redis://127.0.0.1:6379/0' });
    const sentinel = loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379, sentinel-b:26379,[::1]:26380', REDIS_SENTINEL_NAME: 'certbound' });
    assert.deepEqual(sentinel.redis, {
      mode: 'sentinel', name: 'certbound',
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: 'sentinel-b', port: 26379 }, { host: '::1', port: 26380 }],
    });
    assert.equal(sentinel.redisWaitReplicas, 1, 'a replay record waits for one replica on Sentinel by default');
    const cluster = loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000,r2:7000' });
    assert.deepEqual(cluster.redis, { mode: 'cluster', nodes: [{ host: 'r1', port: 7000 }, { host: 'r2', port: 7000 }] });
    assert.equal(cluster.redisWaitReplicas, 0);
    assert.equal(loadConfig({}).redis, undefined);
  });

  it('refuses two ways at once, naming both', () => {
    assert.throws(() => loadConfig({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' }), refusal('REDIS_CLUSTER_NODES', /only one of REDIS_URL and REDIS_CLUSTER_NODES/));
    assert.throws(() => loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'b:7000' }), refusal('REDIS_CLUSTER_NODES', /REDIS_SENTINELS and REDIS_CLUSTER_NODES/));
  });

  it('needs REDIS_SENTINEL_NAME with REDIS_SENTINELS, and only then', () => {
    assert.throws(() => loadConfig({ REDIS_SENTINELS: 'a:26379' }), refusal('REDIS_SENTINEL_NAME', /must be set with REDIS_SENTINELS/));
    assert.throws(() => loadConfig({ REDIS_SENTINEL_NAME: 'certbound' }), refusal('REDIS_SENTINEL_NAME', /without REDIS_SENTINELS/));
    assert.throws(() => loadConfig({ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'a b' }), refusal('REDIS_SENTINEL_NAME', /not a master name/));
  });

  it('refuses a host:port list entry that is not host:port, or named twice', () => {
    for (const bad of ['a', 'a:0', 'a:65536', 'a:x', '::1:6379', 'a b:1', ',']) {
      assert.throws(() => hostPortList('REDIS_CLUSTER_NODES', bad), refusal('REDIS_CLUSTER_NODES', /host:port|names no/), bad);
    }
    assert.throws(() => hostPortList('REDIS_SENTINELS', 'a:1,a:1'), refusal('REDIS_SENTINELS', /twice/));
  });

  it('checks REDIS_WAIT_REPLICAS', () => {
    assert.equal(loadConfig({ REDIS_URL: 'redis://a:1', REDIS_WAIT_REPLICAS: '2' }).redisWaitReplicas, 2);
    assert.equal(loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_WAIT_REPLICAS: '0' }).redisWaitReplicas, 0);
    assert.throws(() => loadConfig({ REDIS_URL: 'redis://a:1', REDIS_WAIT_REPLICAS: '-1' }), refusal('REDIS_WAIT_REPLICAS', /not a number of replicas/));
    assert.throws(() => loadConfig({ REDIS_WAIT_REPLICAS: '1' }), refusal('REDIS_WAIT_REPLICAS', /without a Redis/));
  });
});

describe('store TLS settings', () => {
  it('takes the certificate and key together, as absolute paths', () => {
    const config = loadConfig({ REDIS_URL: 'rediss://r:6380', REDIS_TLS_CA_FILE: 'ca.pem', REDIS_TLS_CERT_FILE: '/etc/c.pem', REDIS_TLS_KEY_FILE: '/etc/k.pem' });
    assert.deepEqual(config.redisTls, { caFile: `${process.cwd()}/ca.pem`, certFile: '/etc/c.pem', keyFile: '/etc/k.pem' });
    assert.throws(() => loadConfig({ REDIS_URL: 'rediss://r:6380', REDIS_TLS_CERT_FILE: 'c.pem' }), refusal('REDIS_TLS_KEY_FILE', /together with REDIS_TLS_CERT_FILE/));
    assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://db/x', KEY_ENCRYPTION_KEY: 'x'.repeat(44), DATABASE_SSL_KEY_FILE: 'k.pem' }), refusal('DATABASE_SSL_CERT_FILE', /together/));
  });

  it('refuses REDIS_TLS_* over a plain redis:// URL, and without any Redis', () => {
    assert.throws(() => loadConfig({ REDIS_URL: 'redis://r:6379', REDIS_TLS_CA_FILE: 'ca.pem' }), refusal('REDIS_URL', /rediss:\/\//));
    assert.throws(() => loadConfig({ REDIS_TLS_CA_FILE: 'ca.pem' }), refusal('REDIS_TLS_CA_FILE', /without REDIS_URL/));
    assert.ok(loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_TLS_CA_FILE: 'ca.pem' }).redisTls);
  });

  it('refuses DATABASE_SSL_* without DATABASE_URL, or beside TLS parameters in it', () => {
    assert.throws(() => loadConfig({ DATABASE_SSL_CA_FILE: 'ca.pem' }), refusal('DATABASE_SSL_CA_FILE', /without DATABASE_URL/));
    const kek = { KEY_ENCRYPTION_KEY: 'x'.repeat(44) };
    assert.throws(() => loadConfig({ ...kek, DATABASE_URL: 'postgres://db/x?sslmode=require', DATABASE_SSL_CA_FILE: 'ca.pem' }), refusal('DATABASE_URL', /sslmode/));
    assert.equal(loadConfig({ ...kek, DATABASE_URL: 'postgres://db/x', DATABASE_SSL_CA_FILE: '/ca.pem' }).databaseTls?.caFile, '/ca.pem');
  });
});
