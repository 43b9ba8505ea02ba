// oidc/errors.ts: certbound's refusal classes, the one table of oidc-provider's own refusals, and
// the reporter's one log line, against a bare oidc-provider over plain HTTP.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { errors, Provider } from 'oidc-provider';
import { createLogger } from '../../src/log.ts';
import { CertificateHeaderRefused, ClientCertificateRefused, createRefusalReporter, ENGINE_VERSION } from '../../src/oidc/errors.ts';

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

  it('an unreadable proxy certificate header is 400 invalid_request', () => {
    const err = new CertificateHeaderRefused('X-SSL-Client-Cert is not a PEM certificate');
    assert.ok(err instanceof errors.InvalidRequest);
    assert.deepEqual([err.status, err.error, err.error_description, err.check], [400, 'invalid_request', 'X-SSL-Client-Cert is not a PEM certificate', 'certificate_header']);
  });
});

describe('oidc-provider\'s own refusals: described once, one log line', () => {
  it('the table of oidc-provider\'s error_detail strings was checked against the installed oidc-provider', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('oidc-provider')), 'utf8')) as { version: string };
    assert.equal(pkg.version.split('.').slice(0, 2).join('.'), ENGINE_VERSION, 'oidc-provider was upgraded: re-check ENGINE_REFUSALS in oidc/errors.ts');
  });

  const lines: Record<string, unknown>[] = [];
  let server: Server;
  let base: string;

  before(async () => {
    const provider = new Provider('http://op.test', {
      clients: [{ client_id: 'pkjwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] }, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }],
      clientAuthMethods: ['none', 'private_key_jwt'],
      features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    });
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    provider.use(createRefusalReporter(provider, createLogger('info', sink), MTLS_TOKEN));
    server = createServer(provider.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
    assert.equal(refusals[0]!.reason, res.json.error_description);
    assert.equal(refusals[0]!.error, 'invalid_client');
  });

  it('a client authenticating otherwise than registered: names the registered method', async () => {
    const res = await token({ grant_type: 'client_credentials', client_id: 'pkjwt' });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json, {
      error: 'invalid_client',
      error_description: 'the client authentication used does not match the registered token_endpoint_auth_method private_key_jwt',
    });
  });
});
