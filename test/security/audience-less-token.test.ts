// Attack class: tokens that name no audience, or an audience the client was never given. An
// opaque token without `aud` is accepted by any resource server that introspects without an
// audience check; an empty-scope token for someone else's API is accepted by any that checks only
// `aud`. Every access token carries an audience (DESIGN.md "Contracts"), and only one the client
// holds (client metadata `resources`).
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import {
  SECURITY_RESOURCE, ensureServing, expectRefusal, expectStillServing, presenting, registerWorld, startSecurityServer,
  type SecurityServer, type SecurityWorld, type TlsClientIdentity,
} from '../support/security-server.ts';
import { attemptToken, claimsOf } from '../support/resource-attempts.ts';

const OTHER = 'https://other.security.test'; // scopes: payments:write
const AUDIENCE_ONLY = 'https://audience-only.security.test'; // no scopes

describe('audience-less and foreign-audience tokens (RFC 8707 §2, RFC 9068 §3)', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  let noDefault: TlsClientIdentity;
  let holder: TlsClientIdentity;

  before(async () => {
    server = await startSecurityServer();
    world = await registerWorld(server);
    await server.registerResourceServer({ identifier: OTHER, scopes: ['payments:write'], sender_constraint_required: true });
    await server.registerResourceServer({ identifier: AUDIENCE_ONLY, scopes: [], sender_constraint_required: true });
    const a = await issueCertificate({ subject: 'CN=no-default,O=certbound tests', issuer: server.pki.clientRoot, days: 5 });
    noDefault = presenting(a);
    await server.registerClient({ client_id: 'no-default', tls_client_auth_subject_dn: a.subject, resources: { [SECURITY_RESOURCE]: ['read'] } });
    const b = await issueCertificate({ subject: 'CN=holder,O=certbound tests', issuer: server.pki.clientRoot, days: 5 });
    holder = presenting(b);
    await server.registerClient({ client_id: 'holder', tls_client_auth_subject_dn: b.subject, resources: { [AUDIENCE_ONLY]: [] }, default_resource: AUDIENCE_ONLY });
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  const NO_RESOURCE = 'no resource requested and client "no-default" has no default_resource; name the resource server with the resource parameter (RFC 8707)';

  it('refuses a client without default_resource that names no resource: invalid_target', async () => {
    expectRefusal(await attemptToken(server, 'no-default', noDefault), 400, 'invalid_target', NO_RESOURCE);
    await expectStillServing(server, world.legit);
  });

  it('refuses it with a scope too (no audience-less token with the scope filtered away)', async () => {
    expectRefusal(await attemptToken(server, 'no-default', noDefault, { scope: 'read' }), 400, 'invalid_target', NO_RESOURCE);
  });

  it('the same client naming its resource gets a token for it', async () => {
    const claims = claimsOf((await attemptToken(server, 'no-default', noDefault, { resource: SECURITY_RESOURCE })).res);
    assert.deepEqual([claims.aud, claims.scope], [SECURITY_RESOURCE, 'read']);
  });

  it('refuses an empty-scope request for a registered audience the client does not hold: invalid_target', async () => {
    expectRefusal(await attemptToken(server, world.legit.clientId, world.legit.identity, { resource: OTHER }),
      400, 'invalid_target', `resource "${OTHER}" is not granted to client "legit"`);
    await expectStillServing(server, world.legit);
  });

  it('refuses an audience that is not registered: invalid_target', async () => {
    expectRefusal(await attemptToken(server, world.legit.clientId, world.legit.identity, { resource: 'https://unknown.security.test' }),
      400, 'invalid_target', 'resource "https://unknown.security.test" is not a registered resource server');
  });

  it('a resource held with an empty scope list is held: its token carries the audience and no scope', async () => {
    const claims = claimsOf((await attemptToken(server, 'holder', holder)).res);
    assert.equal(claims.aud, AUDIENCE_ONLY);
    assert.equal(claims.scope, undefined);
  });

  it('a scope the resource does not define is refused, not silently dropped: invalid_scope', async () => {
    expectRefusal(await attemptToken(server, 'holder', holder, { scope: 'payments:write' }),
      400, 'invalid_scope', `scope "payments:write" is not a scope of resource "${AUDIENCE_ONLY}"`);
  });
});
