// oidc/resource-indicators.ts: which audiences and scopes a client gets (RFC 8707, RFC 6749 §3.3),
// checked without a server: the callbacks oidc-provider calls, with a minimal context.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errors, type Client, type KoaContextWithOIDC } from 'oidc-provider';
import {
  ADMIN_RESOURCE, createResourceIndicators, heldResources, mayHoldResource, scopesToResources, type ResourceServerRecord,
} from '../../src/oidc/resource-indicators.ts';
import { loadConfig, ConfigError } from '../../src/config.ts';

const A = 'https://a.test';
const B = 'https://b.test';
const SERVERS: Record<string, ResourceServerRecord> = {
  [A]: { identifier: A, scopes: ['read', 'write'], token_format: 'jwt', access_token_ttl: null, sender_constraint_required: true },
  [B]: { identifier: B, scopes: ['read'], token_format: 'opaque', access_token_ttl: 60, sender_constraint_required: true },
  [ADMIN_RESOURCE]: { identifier: ADMIN_RESOURCE, scopes: ['admin'], token_format: 'jwt', access_token_ttl: null, sender_constraint_required: true },
};

const indicators = createResourceIndicators({
  find: async (id) => SERVERS[id], defaultTtl: 600, signingAlg: 'ES256', adminClientIds: ['admin'], isAdminPerson: async (accountId) => accountId === 'root',
});

function client(clientId: string, metadata: Record<string, unknown>): Client {
  return { clientId, tlsClientCertificateBoundAccessTokens: true, ...metadata } as unknown as Client;
}

function ctx(params: Record<string, unknown>): KoaContextWithOIDC {
  return { oidc: { route: 'token', params: { grant_type: 'client_credentials', ...params } }, get: () => '' } as unknown as KoaContextWithOIDC;
}

async function refusal(promise: Promise<unknown>): Promise<{ error: string; description: string }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof errors.OIDCProviderError, String(err));
    const e = err as unknown as { error: string; error_description: string };
    return { error: e.error, description: e.error_description };
  }
  assert.fail('expected a refusal');
}

describe('scopes per resource server (oidc/resource-indicators.ts)', () => {
  const ledger = client('ledger', { resources: { [A]: ['read'], [B]: [] }, default_resource: A });

  it('grants only the scopes held on the requested resource, all of them for an empty request (RFC 6749 §3.3)', async () => {
    const c = ctx({});
    const info = await indicators.getResourceServerInfo(c, A, ledger);
    assert.deepEqual([info.audience, info.scope, info.accessTokenFormat], [A, 'read', 'jwt']);
    assert.equal(c.oidc.params!.scope, 'read');
  });

  it('a resource held with no scopes: its audience, no scope', async () => {
    const info = await indicators.getResourceServerInfo(ctx({}), B, ledger);
    assert.deepEqual([info.audience, info.scope, info.accessTokenTTL], [B, '', 60]);
  });

  it('refuses, naming the failed check', async () => {
    assert.deepEqual(await refusal(indicators.getResourceServerInfo(ctx({}), 'https://nope.test', ledger)),
      { error: 'invalid_target', description: 'resource "https://nope.test" is not a registered resource server' });
    assert.deepEqual(await refusal(indicators.getResourceServerInfo(ctx({}), A, client('other', { resources: { [B]: ['read'] } }))),
      { error: 'invalid_target', description: `resource "${A}" is not granted to client "other"` });
    assert.deepEqual(await refusal(indicators.getResourceServerInfo(ctx({ scope: 'write' }), A, ledger)),
      { error: 'invalid_scope', description: `scope "write" is not granted to client "ledger" on resource "${A}"` });
    assert.deepEqual(await refusal(indicators.getResourceServerInfo(ctx({ scope: 'read admin' }), A, ledger)),
      { error: 'invalid_scope', description: `scope "admin" is not a scope of resource "${A}"` });
    assert.deepEqual(await refusal(indicators.getResourceServerInfo(ctx({}), B, client('unbound', { tlsClientCertificateBoundAccessTokens: false, resources: { [B]: [] } }))),
      { error: 'invalid_target', description: `resource "${B}" accepts only sender-constrained tokens (mTLS or DPoP) and this client gets unbound tokens` });
  });

  it('the admin resource only for ADMIN_CLIENT_IDS, whatever the metadata holds', async () => {
    const intruder = client('partner', { resources: { [ADMIN_RESOURCE]: ['admin'] } });
    assert.deepEqual(await refusal(indicators.getResourceServerInfo(ctx({ scope: 'admin' }), ADMIN_RESOURCE, intruder)),
      { error: 'invalid_target', description: `resource "${ADMIN_RESOURCE}" is granted only to the admin clients (ADMIN_CLIENT_IDS), and client "partner" is not one` });
    const admin = client('admin', { resources: { [ADMIN_RESOURCE]: ['admin'] } });
    assert.equal((await indicators.getResourceServerInfo(ctx({ scope: 'admin' }), ADMIN_RESOURCE, admin)).scope, 'admin');
  });

  it('every token has an audience: no resource and no default_resource is invalid_target', async () => {
    assert.equal(await indicators.defaultResource(ctx({}), ledger), A);
    assert.deepEqual(await indicators.defaultResource(ctx({}), ledger, [A, B]), [A, B]);
    assert.deepEqual(await refusal(indicators.defaultResource(ctx({}), client('bare', { resources: { [A]: [] } }))),
      { error: 'invalid_target', description: 'no resource requested and client "bare" has no default_resource; name the resource server with the resource parameter (RFC 8707)' });
  });

  it('reads `resources` fail-closed, and maps the flat scope only where it is unambiguous', () => {
    assert.deepEqual(heldResources({ resources: { [A]: ['read'], [B]: 'read' } }), { [A]: ['read'] });
    assert.deepEqual(heldResources({ resources: [A] }), {});
    assert.deepEqual(heldResources({ scope: 'read' }), {});
    const registered = new Map(Object.values(SERVERS).map((rs) => [rs.identifier, rs.scopes]));
    assert.deepEqual(scopesToResources(['write'], registered), { resources: { [A]: ['write'] } });
    assert.deepEqual(scopesToResources(['write', 'read'], registered).ambiguous, { scope: 'read', identifiers: [A, B] });
    assert.equal(scopesToResources(['nope'], registered).unknown, 'nope');
    assert.equal(mayHoldResource(ADMIN_RESOURCE, 'partner', ['admin']), false);
    assert.equal(mayHoldResource(A, 'partner', ['admin']), true);
  });
});

describe('ADMIN_CLIENT_IDS', () => {
  it('defaults to admin and reads a comma-separated list', () => {
    assert.deepEqual(loadConfig({}).adminClientIds, ['admin']);
    assert.deepEqual(loadConfig({ ADMIN_CLIENT_IDS: 'admin, ops-admin' }).adminClientIds, ['admin', 'ops-admin']);
  });

  it('refuses an empty member, a space, and a repeat, naming the variable', () => {
    assert.throws(() => loadConfig({ ADMIN_CLIENT_IDS: 'admin,,ops' }), (err: Error) => err instanceof ConfigError && err.message === 'ADMIN_CLIENT_IDS: "" is not a client_id (1 to 255 visible ASCII characters, no space or comma)');
    assert.throws(() => loadConfig({ ADMIN_CLIENT_IDS: 'ops admin' }), /^ConfigError: ADMIN_CLIENT_IDS: "ops admin" is not a client_id/);
    assert.throws(() => loadConfig({ ADMIN_CLIENT_IDS: 'admin,admin' }), /ADMIN_CLIENT_IDS: names a client twice/);
  });
});
