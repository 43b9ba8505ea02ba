// oidc/engine-patches.ts: the patches are written against one oidc-provider version, and a
// server refuses to start on another one, naming both versions and what to do.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errors, Provider } from 'oidc-provider';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { assertEngineVersion, ENGINE_VERSION, installedEngineVersion, installEnginePatches, mountBeforeEngine } from '../../src/oidc/engine-patches.ts';

const patches = (installedVersion?: string) => ({
  kv: createMemoryKv(),
  assertionAudiences: ['https://mtls.op.test/token'],
  onReplay: () => {},
  tokenParameter: (_ctx: unknown, token: string) => token,
  describeRefusal: () => undefined,
  stackStart: async () => {},
  ...(installedVersion ? { installedVersion } : {}),
});

describe('engine patches are tied to one oidc-provider version', () => {
  it('the installed oidc-provider is the version the patches name', () => {
    assert.equal(installedEngineVersion(), ENGINE_VERSION, 'oidc-provider was upgraded: re-check every patch in oidc/engine-patches.ts');
  });

  it('another version: start refuses with a message naming both versions and the file', () => {
    const provider = new Provider('http://op.test', {});
    const engineUnique: unknown = Reflect.get(provider.ReplayDetection, 'unique');
    const expected = new RegExp(`^oidc-provider 9\\.14\\.0 is installed, but certbound's engine patches \\(apps/authz-server/src/oidc/engine-patches\\.ts\\) were written against oidc-provider ${ENGINE_VERSION.replaceAll('.', '\\.')}: `);
    assert.throws(() => installEnginePatches(provider, patches('9.14.0')), { message: expected });
    assert.throws(() => assertEngineVersion('9.13.4'), /oidc-provider 9\.13\.4 is installed/);
    // Nothing was patched: the engine's own replay detection and audiences are untouched.
    assert.equal(Reflect.get(provider.ReplayDetection, 'unique'), engineUnique);
    assert.throws(() => mountBeforeEngine(provider, async () => {}), /not built by createProvider/);
  });

  it('the named version: patched, and a replayed jti is detected once across the shared store', async () => {
    const provider = new Provider('http://op.test', {});
    const seen: string[] = [];
    installEnginePatches(provider, { ...patches(), onReplay: (_ctx, jti) => { seen.push(jti); } });
    assert.equal(await provider.ReplayDetection.unique('client', 'jti-1', Math.floor(Date.now() / 1000) + 60), true);
    assert.equal(await provider.ReplayDetection.unique('client', 'jti-1', Math.floor(Date.now() / 1000) + 60), false);
    assert.deepEqual(seen, ['jti-1']);
  });

  it('the description of the engine\'s InvalidGrant / InvalidClientAuth is decided as the error is made', () => {
    const provider = new Provider('http://op.test', {});
    installEnginePatches(provider, { ...patches(), describeRefusal: (_ctx, err, detail) => `${err.error}: ${detail}` });
    const grant = new errors.InvalidGrant('refresh token not found');
    assert.deepEqual([grant.error, grant.error_description, grant.error_detail], ['invalid_grant', 'invalid_grant: refresh token not found', 'refresh token not found']);
    const client = new errors.InvalidClientAuth('client assertion tokens must only be used once');
    assert.equal(client.error_description, 'invalid_client: client assertion tokens must only be used once');
    // Without a detail the engine's generic description stays.
    assert.equal(new errors.InvalidGrant().error_description, 'grant request is invalid');
  });
});
