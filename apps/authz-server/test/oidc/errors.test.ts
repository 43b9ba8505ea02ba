// oidc/errors.ts: certbound's refusal classes, the refusals certbound makes before oidc-provider's
// client authentication (oidc/client-authentication.ts through oidc/adapter.ts), and the
// reporter's one log line, against a bare oidc-provider over plain HTTP.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { errors, Provider, type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import { createLogger } from '../../src/log.ts';
import { CertificateHeaderRefused, ClientCertificateRefused, createRefusalReporter, describeEngineRefusal, GrantRefused } from '../../src/oidc/errors.ts';
import { certboundAdapter } from '../../src/oidc/adapter.ts';

const MTLS_TOKEN = 'https://mtls.op.test/token';

describe('certbound refusals are oidc-provider error classes (oidc/errors.ts)', () => {
  it('a refused certificate is 401 invalid_client whose description is the reason, with the check', () => {
    const err = new ClientCertificateRefused('certificate_expired', 'certificate expired at 2026-01-01T00:00:00.000Z');
    assert.ok(err instanceof errors.InvalidClientAuth);
    assert.deepEqual(
      [err.status, err.expose, err.error, err.error_description, err.check],
      [401, true, 'invalid_client', 'certificate expired at 2026-01-01T00:00:00.000Z', 'certificate_expired'],
    );
  });

  it('oidc-provider\'s own refusals: told by class and request facts, never by the message', () => {
    const refresh = (consumed: number | undefined, rotated = false) => ({
      oidc: {
        route: 'token', params: { grant_type: 'refresh_token' },
        entities: { RefreshToken: { consumed }, ...(rotated ? { RotatedRefreshToken: {} } : {}) },
      },
    }) as unknown as KoaContextWithOIDC;
    const grant = new errors.InvalidGrant();
    // A refresh token consumed before this request: reused, the grant is revoked.
    assert.equal(describeEngineRefusal(refresh(1_700_000_000), grant, 'any text'), 'refresh token was already used (rotated); the whole grant is now revoked');
    // Otherwise the engine's own reason, whatever it says, for invalid_grant and invalid_client only.
    assert.equal(describeEngineRefusal(refresh(undefined), grant, 'any text'), 'any text');
    assert.equal(describeEngineRefusal(refresh(1_700_000_000, true), grant, 'any text'), 'any text');
    assert.equal(describeEngineRefusal(undefined, new errors.InvalidClientAuth(), 'why'), 'why');
    assert.equal(describeEngineRefusal(undefined, new errors.InvalidRequest('x'), 'why'), undefined);
    // certbound's own refusals keep their words.
    assert.equal(describeEngineRefusal(undefined, new GrantRefused('certificate_missing', 'no client certificate presented'), 'x'), undefined);
  });

  it('an unreadable proxy certificate header is 400 invalid_request', () => {
    const err = new CertificateHeaderRefused('X-SSL-Client-Cert is not a PEM certificate');
    assert.ok(err instanceof errors.InvalidRequest);
    assert.deepEqual([err.status, err.error, err.error_description, err.check], [400, 'invalid_request', 'X-SSL-Client-Cert is not a PEM certificate', 'certificate_header']);
  });
});

/** A Client store of the given metadata, the way storage's adapter answers oidc-provider. */
function clientStore(clients: readonly AdapterPayload[]): (model: string) => Adapter {
  const found = new Map(clients.map((c) => [c.client_id!, c]));
  const nothing = async () => undefined;
  return () => ({
    find: async (id: string) => found.get(id),
    upsert: nothing, findByUserCode: nothing, findByUid: nothing, consume: nothing, destroy: nothing, revokeByGrantId: nothing,
  });
}

describe('client authentication refused in certbound\'s words, one log line', () => {
  const lines: Record<string, unknown>[] = [];
  let server: Server;
  let base: string;

  before(async () => {
    const provider = new Provider('http://op.test', {
      adapter: certboundAdapter(clientStore([
        { client_id: 'pkjwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] }, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
      ]), { staticScopes: new Set(['openid']), mtlsTokenEndpoint: MTLS_TOKEN }),
      clientAuthMethods: ['none', 'private_key_jwt'],
      features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    });
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } });
    provider.use(createRefusalReporter(provider, createLogger('info', sink)));
    const handle = provider.callback();
    server = createServer((req, res) => { void handle(req, res); });
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function token(form: Record<string, string>) {
    const res = await fetch(`${base}/token`, { method: 'POST', body: new URLSearchParams(form) });
    return { status: res.status, json: await res.json() as Record<string, unknown> };
  }

  it('an unknown client: 401 invalid_client naming it, and the log line gives the same reason', async () => {
    const from = lines.length;
    const res = await token({ grant_type: 'client_credentials', client_id: 'ghost' });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, { error: 'invalid_client', error_description: 'client "ghost" is not registered or is disabled' });
    const refusals = lines.slice(from).filter((l) => l.event === 'oauth_refusal');
    assert.equal(refusals.length, 1);
    assert.equal(refusals[0].reason, res.json.error_description);
    assert.equal(refusals[0].error, 'invalid_client');
    assert.equal(refusals[0].check, 'client_unknown');
  });

  it('a client authenticating otherwise than registered: names the registered method', async () => {
    const from = lines.length;
    const res = await token({ grant_type: 'client_credentials', client_id: 'pkjwt' });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, {
      error: 'invalid_client',
      error_description: 'the client authentication used does not match the registered token_endpoint_auth_method private_key_jwt',
    });
    const refusals = lines.slice(from).filter((l) => l.event === 'oauth_refusal');
    assert.deepEqual(refusals.map((l) => [l.status, l.error, l.check, l.client_id]), [[401, 'invalid_client', 'client_auth_method', 'pkjwt']]);
  });
});
