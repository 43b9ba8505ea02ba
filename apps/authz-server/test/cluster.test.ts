// WORKERS: how many processes serve the listeners, and when more than one is allowed.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { CONFIG_REFERENCE, loadConfig } from '../src/config.ts';
import { withWorkerHeader } from '../src/cluster.ts';
import { configError } from './config-error.ts';

const KEY_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
const external = { DATABASE_URL: 'postgres://u:p@db.internal/certbound', REDIS_URL: 'redis://cache.internal:6379/0', KEY_ENCRYPTION_KEY };

describe('WORKERS', () => {
  it('defaults to one process on embedded storage', () => {
    assert.equal(loadConfig({}).workers, 1);
    assert.equal(loadConfig({ DATABASE_URL: external.DATABASE_URL, KEY_ENCRYPTION_KEY }).workers, 1, 'PostgreSQL without Redis is still partly in-process');
  });

  it('defaults to the number of cores on PostgreSQL + Redis', () => {
    assert.equal(loadConfig(external).workers, availableParallelism());
  });

  it('takes an explicit count on PostgreSQL + Redis', () => {
    assert.equal(loadConfig({ ...external, WORKERS: '3' }).workers, 3);
    assert.equal(loadConfig({ ...external, WORKERS: '1' }).workers, 1);
  });

  it('refuses more than one worker on embedded storage, naming WORKERS', () => {
    const err = configError({ WORKERS: '2' });
    assert.equal(err.variable, 'WORKERS');
    assert.match(err.message, /^WORKERS: must be 1 with embedded storage \(got 2\).*DATABASE_URL and REDIS_URL/);
    assert.equal(configError({ WORKERS: '4', REDIS_URL: external.REDIS_URL }).variable, 'WORKERS');
  });

  it('refuses a count that is not a positive integer', () => {
    for (const raw of ['0', '-1', 'two', '1.5']) {
      assert.equal(configError({ ...external, WORKERS: raw }).message, `WORKERS: "${raw}" is not a positive integer`);
    }
  });

  it('is in the configuration reference', () => {
    assert.ok(CONFIG_REFERENCE.some((v) => v.name === 'WORKERS'));
  });
});

describe('the x-certbound-worker debug header', () => {
  function answer(logLevel: 'info' | 'debug' | 'trace') {
    const headers = new Map<string, string>();
    let handled = false;
    const res = { setHeader: (name: string, value: string) => headers.set(name, value) } as unknown as ServerResponse;
    withWorkerHeader(() => { handled = true; }, logLevel)({} as IncomingMessage, res);
    return { headers, handled };
  }

  it('names the process at debug and trace', () => {
    for (const level of ['debug', 'trace'] as const) {
      const { headers, handled } = answer(level);
      assert.equal(headers.get('x-certbound-worker'), String(process.pid));
      assert.equal(handled, true);
    }
  });

  it('is absent otherwise', () => {
    const { headers, handled } = answer('info');
    assert.equal(headers.size, 0);
    assert.equal(handled, true);
  });
});
