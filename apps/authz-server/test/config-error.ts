// The ConfigError loadConfig throws for `env`, for the config tests that assert its variable and
// message (a test fails when loadConfig accepts the environment or throws anything else).
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config.ts';

export function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}
