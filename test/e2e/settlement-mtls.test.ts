// The reference integration end to end, as real processes: the authorization server, the demo
// settlement API in strict mode, and a second one in permissive mode (a migration).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevPki, type DevPki } from '../../apps/authz-server/src/dev/pki.ts';
import { issueCertificate, loadIssued } from '../../apps/authz-server/src/pki/issue.ts';
import { openStores } from '../../apps/authz-server/src/storage/index.ts';
import { upsertClient } from '../../apps/authz-server/src/storage/postgres/clients.ts';
import { upsertResourceServer } from '../../apps/authz-server/src/storage/postgres/resource-servers.ts';
import { bootstrapDevRegistrations, DEMO_RESOURCE } from '../../apps/authz-server/src/dev/registrations.ts';
import { freePort, https, type TlsIdentity } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';
import { startProcess, type RunningProcess } from '../support/processes.ts';

const LEGACY_RESOURCE = 'https://legacy-settlements.test';
const SETTLEMENT = { amount: '125.00', currency: 'EUR', counterparty: 'ACME GmbH', reference: 'INV-2026-0042' };

describe('settlement API protected by @certbound/cnf-verifier (real processes)', () => {
  let dir: string;
  let pki: DevPki;
  let ca: string;
  let demoClient: TlsIdentity;
  let admin: TlsIdentity;
  let legacy: TlsIdentity;
  let as: RunningProcess;
  let strict: RunningProcess;
  let permissive: RunningProcess;
  let tokenUrl: string;
  let strictUrl: string;
  let permissiveUrl: string;

  async function token(client_id: string, who: TlsIdentity, extra: Record<string, string> = {}) {
    const res = await https(tokenUrl, { ca, identity: who, form: { grant_type: 'client_credentials', client_id, ...extra } });
    assert.equal(res.status, 200, res.text);
    return res.json.access_token;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certbound-e2e-rs-'));
    const dataDir = join(dir, '.data');
    pki = await ensureDevPki(dataDir);
    ca = await readFile(pki.caFile, 'utf8');
    demoClient = { cert: await readFile(pki.demoClientCertFile, 'utf8'), key: await readFile(pki.demoClientKeyFile, 'utf8') };
    admin = { cert: await readFile(pki.adminCertFile, 'utf8'), key: await readFile(pki.adminKeyFile, 'utf8') };
    const devCa = await loadIssued(ca, await readFile(pki.caKeyFile, 'utf8'));
    const legacyCert = await issueCertificate({ subject: 'CN=legacy-client,O=certbound dev', issuer: devCa, days: 2 });
    legacy = { cert: legacyCert.certPem, key: legacyCert.keyPem };

    // Registrations a bootstrap and an admin would have made, written before the server starts
    // (the embedded database belongs to one process at a time).
    const stores = await openStores({ dataDir });
    await bootstrapDevRegistrations(stores.sql, pki);
    await upsertResourceServer(stores.sql, {
      identifier: LEGACY_RESOURCE, name: 'legacy', scopes: ['settlements:read', 'settlements:write'],
      token_format: 'jwt', access_token_ttl: null, sender_constraint_required: false,
    });
    await upsertClient(stores.sql, {
      client_id: 'legacy-client', token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: legacyCert.subject, tls_client_certificate_bound_access_tokens: false,
      grant_types: ['client_credentials'], response_types: [],
      // It holds the strict demo resource too, so that refusal is the sender constraint's.
      resources: { [LEGACY_RESOURCE]: ['settlements:read', 'settlements:write'], [DEMO_RESOURCE]: ['settlements:read'] },
      default_resource: LEGACY_RESOURCE,
    });
    await stores.close();

    const [publicPort, mtlsPort, strictPort, permissivePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    as = await startProcess('apps/authz-server/src/main.ts', { PUBLIC_PORT: String(publicPort), MTLS_PORT: String(mtlsPort), DATA_DIR: dataDir }, { ready: /"event":"listening"/, cwd: dir });
    const demoEnv = { DATA_DIR: dataDir, DEMO_ISSUER: `https://localhost:${publicPort}` };
    strict = await startProcess('apps/resource-server-demo/src/main.ts', { ...demoEnv, DEMO_PORT: String(strictPort), DEMO_AUDIENCE: DEMO_RESOURCE }, { ready: /"event":"listening"/ });
    permissive = await startProcess('apps/resource-server-demo/src/main.ts', { ...demoEnv, DEMO_PORT: String(permissivePort), DEMO_AUDIENCE: LEGACY_RESOURCE, DEMO_MODE: 'permissive' }, { ready: /"event":"listening"/ });
    tokenUrl = `https://localhost:${mtlsPort}/token`;
    strictUrl = `https://localhost:${strictPort}/api/v1/settlements`;
    permissiveUrl = `https://localhost:${permissivePort}/api/v1/settlements`;
  });

  after(async () => {
    await Promise.all([strict?.stop(), permissive?.stop(), as?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('demo-client gets a token over mTLS and settles, and every answer says who called', async () => {
    const accessToken = await token('demo-client', demoClient);
    const created = await https(strictUrl, { ca, identity: demoClient, json: SETTLEMENT, headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(created.status, 201, created.text);
    assert.match(created.json.settlement.id as string, /^[0-9a-f-]{36}$/);
    assert.equal(created.json.settlement.amount, '125.00');
    assert.deepEqual(created.json.caller, { client_id: 'demo-client', certificate_subject: 'CN=demo-client,O=certbound dev', binding: 'mtls' });
    assert.equal(created.headers.location, `/api/v1/settlements/${created.json.settlement.id as string}`);

    const read = await https(`${strictUrl}/${created.json.settlement.id as string}`, { ca, identity: demoClient, headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(read.status, 200, read.text);
    assert.equal(read.json.settlement.reference, 'INV-2026-0042');
  });

  it('refuses the same token from another valid certificate of the same CA (401 invalid_token)', async () => {
    const accessToken = await token('demo-client', demoClient);
    const stolen = await https(strictUrl, { ca, identity: admin, json: SETTLEMENT, headers: { authorization: `Bearer ${accessToken}` } });
    expectOAuthError(stolen, 401, 'invalid_token');
    assert.match(String(stolen.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
  });

  it('refuses the token with no certificate at all', async () => {
    const accessToken = await token('demo-client', demoClient);
    const res = await https(strictUrl, { ca, json: SETTLEMENT, headers: { authorization: `Bearer ${accessToken}` } });
    expectOAuthError(res, 401, 'invalid_token', /bound to a certificate but none was presented/);
  });

  it('answers 403 insufficient_scope for a read-only token, naming the scope', async () => {
    const readOnly = await token('demo-client', demoClient, { scope: 'settlements:read' });
    assert.equal(decodeJwt(readOnly).payload.scope, 'settlements:read');
    const res = await https(strictUrl, { ca, identity: demoClient, json: SETTLEMENT, headers: { authorization: `Bearer ${readOnly}` } });
    expectOAuthError(res, 403, 'insufficient_scope');
    assert.match(String(res.headers['www-authenticate']), /scope="settlements:write"/);
  });

  it('answers bad settlement input with 400 naming the field', async () => {
    const accessToken = await token('demo-client', demoClient);
    const res = await https(strictUrl, { ca, identity: demoClient, json: { ...SETTLEMENT, currency: 'euro' }, headers: { authorization: `Bearer ${accessToken}` } });
    expectOAuthError(res, 400, 'invalid_request', /^currency: /);
  });

  it('permissive mode accepts an unbound token and reports binding "bearer"', async () => {
    const unbound = await token('legacy-client', legacy);
    assert.equal(decodeJwt(unbound).payload.cnf, undefined);
    const res = await https(permissiveUrl, { ca, json: SETTLEMENT, headers: { authorization: `Bearer ${unbound}` } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.caller.binding, 'bearer');
    assert.equal(res.json.caller.client_id, 'legacy-client');
  });

  it('the authorization server never mints an unbound token for a resource that requires binding', async () => {
    const res = await https(tokenUrl, { ca, identity: legacy, form: { grant_type: 'client_credentials', client_id: 'legacy-client', resource: DEMO_RESOURCE } });
    expectOAuthError(res, 400, 'invalid_target', /accepts only sender-constrained tokens/);
  });
});
