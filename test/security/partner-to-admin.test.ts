// Attack class: a partner becomes an administrator. With one flat list of allowed scopes checked
// against whatever resource a client asks for, an admin who gave partner `billing` the `admin`
// scope of an unrelated billing API made it a full admin:
// client_id=partner-billing&resource=urn:certbound:admin-api&scope=admin returned an admin token,
// which then registered a backdoor client. Every step is refused now: no resource server may
// define `admin`, only ADMIN_CLIENT_IDS may hold the admin API, the token endpoint refuses it to
// any other client, and /admin/v1 refuses a token of any other client id however it was obtained.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import {
  ensureServing, expectRefusal, expectStillServing, makeSecurityPki, presenting, registerWorld, startSecurityServer, timedRequest,
  type SecurityServer, type SecurityWorld, type TlsClientIdentity,
} from '../support/security-server.ts';
import { attemptAdmin, attemptToken, claimsOf, expectAdminRefusal } from '../support/resource-attempts.ts';

const ADMIN = 'urn:certbound:admin-api';
const BILLING = 'https://billing.security.test';
const ONLY_ADMINS = `is granted only to the admin clients (ADMIN_CLIENT_IDS: admin), and "partner-billing" is not one`;

describe('a partner escalating to the admin API', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  let partner: TlsClientIdentity;
  let partnerSubject: string;

  before(async () => {
    server = await startSecurityServer();
    world = await registerWorld(server);
    const cert = await issueCertificate({ subject: 'CN=partner-billing,O=certbound tests', issuer: server.pki.clientRoot, days: 5 });
    partner = presenting(cert);
    partnerSubject = cert.subject;
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  it('refuses a resource server that defines the scope `admin`: 400 naming the member', async () => {
    expectAdminRefusal(await attemptAdmin(server, 'POST', '/resource-servers', { identifier: BILLING, scopes: ['invoices:read', 'admin'] }),
      400, 'invalid_request', `scopes[1]: "admin" is reserved for the admin API (${ADMIN})`);
    assert.equal((await server.admin('GET', `/resource-servers/${encodeURIComponent(BILLING)}`)).status, 404, 'nothing was stored');
    await server.registerResourceServer({ identifier: BILLING, scopes: ['invoices:read'] });
    await expectStillServing(server, world.legit);
  });

  it('refuses to register a client outside ADMIN_CLIENT_IDS with the admin API, whichever field names it: 400', async () => {
    const base = { client_id: 'partner-billing', tls_client_auth_subject_dn: partnerSubject };
    expectAdminRefusal(await attemptAdmin(server, 'POST', '/clients', { ...base, resources: { [BILLING]: ['invoices:read'], [ADMIN]: ['admin'] }, default_resource: BILLING }),
      400, 'invalid_client_metadata', `resources["${ADMIN}"]: ${ADMIN} (the admin API) ${ONLY_ADMINS}`);
    expectAdminRefusal(await attemptAdmin(server, 'POST', '/clients', { ...base, scope: 'invoices:read admin', default_resource: BILLING }),
      400, 'invalid_client_metadata', `scope: "admin" is the scope of the admin API (${ADMIN}), which ${ONLY_ADMINS}`);
    expectAdminRefusal(await attemptAdmin(server, 'POST', '/clients', { ...base, resources: { [ADMIN]: [] }, default_resource: ADMIN }),
      400, 'invalid_client_metadata', `resources["${ADMIN}"]: ${ADMIN} (the admin API) ${ONLY_ADMINS}`);
    expectAdminRefusal(await attemptAdmin(server, 'POST', '/clients', { ...base, default_resource: ADMIN }),
      400, 'invalid_client_metadata', `default_resource: ${ADMIN} (the admin API) ${ONLY_ADMINS}`);
    assert.equal((await server.admin('GET', '/clients/partner-billing')).status, 404, 'nothing was stored');
    await server.registerClient({ ...base, resources: { [BILLING]: ['invoices:read'] }, default_resource: BILLING });
  });

  it('refuses the partner\'s resource=urn:certbound:admin-api&scope=admin: invalid_target', async () => {
    expectRefusal(await attemptToken(server, 'partner-billing', partner, { resource: ADMIN, scope: 'admin' }),
      400, 'invalid_target', `resource "${ADMIN}" is granted only to the admin clients (ADMIN_CLIENT_IDS), and client "partner-billing" is not one`);
    expectRefusal(await attemptToken(server, 'partner-billing', partner, { resource: ADMIN }),
      400, 'invalid_target', `resource "${ADMIN}" is granted only to the admin clients (ADMIN_CLIENT_IDS), and client "partner-billing" is not one`);
    await expectStillServing(server, world.legit);
  });

  it('refuses scope=admin on the partner\'s own resource: invalid_scope (the billing API has no such scope)', async () => {
    expectRefusal(await attemptToken(server, 'partner-billing', partner, { scope: 'admin' }),
      400, 'invalid_scope', `scope "admin" is not a scope of resource "${BILLING}"`);
    const claims = claimsOf((await attemptToken(server, 'partner-billing', partner)).res);
    assert.deepEqual([claims.aud, claims.scope], [BILLING, 'invoices:read']);
  });

  it('refuses the partner\'s own token at /admin/v1 (another audience): 401', async () => {
    const token = (await attemptToken(server, 'partner-billing', partner)).res.json.access_token;
    const res = await timedRequest(`${server.mtlsUrl}/admin/v1/clients`, { ca: server.ca, identity: partner, headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json.error, 'invalid_token');
  });
});

describe('an admin-audience token of a client id outside ADMIN_CLIENT_IDS, however obtained', () => {
  // The token is obtained while partner-billing is in ADMIN_CLIENT_IDS; the operator then takes
  // it out and restarts on the same database and keys. The token is still unexpired and validly
  // signed, for the admin audience, with scope admin: /admin/v1 must refuse it by its client id.
  let dataDir: string;
  let server: SecurityServer | undefined;

  before(async () => { dataDir = await mkdtemp(join(tmpdir(), 'certbound-admin-ids-')); });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is refused by /admin/v1 (401 invalid_token naming the client), and no new one is issued', async () => {
    const pki = await makeSecurityPki();
    // The same deployment restarted: database, keys and issuer (the harness picks new ports).
    const shared = {
      DATA_DIR: dataDir, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), ISSUER: 'https://certbound.security.test',
      // On PostgreSQL, the same schema across both starts (the harness picks a new one per start).
      ...(process.env.TEST_DATABASE_URL ? { DATABASE_SCHEMA: `s_${randomBytes(6).toString('hex')}` } : {}),
    };
    const cert = await issueCertificate({ subject: 'CN=partner-billing,O=certbound tests', issuer: pki.clientRoot, days: 5 });
    const partner = presenting(cert);

    server = await startSecurityServer({ pki, env: { ...shared, ADMIN_CLIENT_IDS: 'admin,partner-billing' } });
    await server.registerClient({ client_id: 'partner-billing', tls_client_auth_subject_dn: cert.subject, resources: { [ADMIN]: ['admin'] }, default_resource: ADMIN });
    const issued = await attemptToken(server, 'partner-billing', partner, { scope: 'admin' });
    assert.deepEqual([claimsOf(issued.res).aud, claimsOf(issued.res).client_id], [ADMIN, 'partner-billing']);
    const token = issued.res.json.access_token;
    const call = (s: SecurityServer) => timedRequest(`${s.mtlsUrl}/admin/v1/clients`, { ca: s.ca, identity: partner, headers: { authorization: `Bearer ${token}` } });
    assert.equal((await call(server)).status, 200, 'while it is an admin client, its token works');
    await server.stop();

    server = await startSecurityServer({ pki, env: { ...shared } });
    const warning = server.logs().find((l) => l.event === 'bootstrap' && Array.isArray(l.clients));
    assert.deepEqual(warning?.clients, ['partner-billing'], 'the start names the client that holds the admin API without being an admin');

    const mark = server.logs().length;
    const res = await call(server);
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json.error, 'invalid_token');
    // RFC 6750 §3: the description also goes into WWW-Authenticate, so the verifier's errors carry no '"'.
    assert.equal(res.json.error_description, "access token was issued to client 'partner-billing', which is not an admin client (ADMIN_CLIENT_IDS)");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refusals = server.logs().slice(mark).filter((l) => l.event === 'admin_refusal');
    assert.equal(refusals.length, 1);
    assert.equal(refusals[0].reason, res.json.error_description);

    expectRefusal(await attemptToken(server, 'partner-billing', partner, { scope: 'admin' }),
      400, 'invalid_target', `resource "${ADMIN}" is granted only to the admin clients (ADMIN_CLIENT_IDS), and client "partner-billing" is not one`);
    // The admin itself is unaffected.
    assert.equal((await server.admin('GET', '/clients')).status, 200);
  });
});
