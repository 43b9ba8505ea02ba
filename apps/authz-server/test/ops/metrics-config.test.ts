// METRICS_PORT, METRICS_HOST and METRICS_MAX_CLIENTS (config.ts): the documented defaults, `off`,
// an ephemeral port, and a clear ConfigError naming the variable for every bad value.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.ts';

function fails(env: Record<string, string>, variable: string, message: RegExp) {
  assert.throws(() => loadConfig(env), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.variable, variable);
    assert.match(err.message, message);
    return true;
  });
}

describe('metrics configuration', () => {
  it('defaults to 127.0.0.1:9464 and 1000 client labels', () => {
    const config = loadConfig({});
    assert.equal(config.metricsPort, 9464);
    assert.equal(config.metricsHost, '127.0.0.1');
    assert.equal(config.metricsMaxClients, 1000);
  });

  it('takes `off`, an ephemeral port, another host and cap', () => {
    assert.equal(loadConfig({ METRICS_PORT: 'off' }).metricsPort, undefined);
    assert.equal(loadConfig({ METRICS_PORT: '0' }).metricsPort, 0);
    const config = loadConfig({ METRICS_PORT: '9100', METRICS_HOST: '0.0.0.0', METRICS_MAX_CLIENTS: '50' });
    assert.deepEqual([config.metricsPort, config.metricsHost, config.metricsMaxClients], [9100, '0.0.0.0', 50]);
    assert.equal(loadConfig({ METRICS_HOST: '::1' }).metricsHost, '::1');
  });

  it('refuses what is not a port, a port of a listener, a bad host or cap', () => {
    fails({ METRICS_PORT: 'on' }, 'METRICS_PORT', /not a TCP port/);
    fails({ METRICS_PORT: '70000' }, 'METRICS_PORT', /not a TCP port/);
    fails({ METRICS_PORT: '8443' }, 'METRICS_PORT', /must differ from PUBLIC_PORT and MTLS_PORT/);
    fails({ METRICS_PORT: '9000', MTLS_PORT: '9000' }, 'METRICS_PORT', /must differ/);
    fails({ METRICS_HOST: 'a b' }, 'METRICS_HOST', /not an IP address or host name/);
    fails({ METRICS_MAX_CLIENTS: '0' }, 'METRICS_MAX_CLIENTS', /not a positive integer/);
    fails({ METRICS_MAX_CLIENTS: 'many' }, 'METRICS_MAX_CLIENTS', /not a positive integer/);
  });
});
