// Attack class: a scope name two resource servers share. With one flat list of allowed scopes,
// a client given `read` on API A also got `read` on API B. Scopes belong to a resource server
// (DESIGN.md): a client holds them per resource server, so `read` held on A is nothing on B.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import {
  SECURITY_RESOURCE, ensureServing, expectRefusal, expectStillServing, presenting, registerWorld, startSecurityServer,
  type SecurityServer, type SecurityWorld, type TlsClientIdentity,
} from '../support/security-server.ts';
import { attemptAdmin, attemptToken, claimsOf, expectAdminRefusal } from '../support/resource-attempts.ts';

const A = SECURITY_RESOURCE; // scopes: read
const B = 'https://b.security.test'; // scopes: read, write

describe('a scope name shared by two resource servers (RFC 8707 audiences, RFC 6749 §3.3 scopes)', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  const identity: Record<string, TlsClientIdentity> = {};

  before(async () => {
    server = await startSecurityServer();
    world = await registerWorld(server);
    await server.registerResourceServer({ identifier: B, scopes: ['read', 'write'], sender_constraint_required: true });
    for (const [clientId, resources] of [['reader-a', { [A]: ['read'] }], ['writer-b', { [A]: ['read'], [B]: ['write'] }]] as const) {
      const cert = await issueCertificate({ subject: `CN=${clientId},O=certbound tests`, issuer: server.pki.clientRoot, days: 5 });
      identity[clientId] = presenting(cert);
      await server.registerClient({ client_id: clientId, tls_client_auth_subject_dn: cert.subject, resources, default_resource: A });
    }
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  it('refuses `read` held on A when requested on B: invalid_target (B is not the client\'s)', async () => {
    expectRefusal(await attemptToken(server, 'reader-a', identity['reader-a'], { resource: B, scope: 'read' }),
      400, 'invalid_target', `resource "${B}" is not granted to client "reader-a"`);
    await expectStillServing(server, world.legit);
  });

  it('refuses B with no scope at all: invalid_target, not an empty-scope token for B', async () => {
    expectRefusal(await attemptToken(server, 'reader-a', identity['reader-a'], { resource: B }),
      400, 'invalid_target', `resource "${B}" is not granted to client "reader-a"`);
  });

  it('refuses `read` on B to a client that holds B with other scopes: invalid_scope naming it', async () => {
    expectRefusal(await attemptToken(server, 'writer-b', identity['writer-b'], { resource: B, scope: 'read' }),
      400, 'invalid_scope', `scope "read" is not granted to client "writer-b" on resource "${B}"`);
    await expectStillServing(server, world.legit);
  });

  it('grants what is held, only there: read on A, write on B', async () => {
    const onA = claimsOf((await attemptToken(server, 'writer-b', identity['writer-b'], { resource: A })).res);
    assert.deepEqual([onA.aud, onA.scope], [A, 'read']);
    const onB = claimsOf((await attemptToken(server, 'writer-b', identity['writer-b'], { resource: B })).res);
    assert.deepEqual([onB.aud, onB.scope], [B, 'write']);
  });

  it('refuses to register the shared name through the flat `scope`: 400 naming the scope and both resource servers', async () => {
    expectAdminRefusal(await attemptAdmin(server, 'POST', '/clients', { client_id: 'ambiguous', tls_client_auth_subject_dn: 'CN=ambiguous', scope: 'read' }),
      400, 'invalid_client_metadata',
      `scope: "read" is a scope of 2 resource servers (${A}, ${B}); name the one meant with resources: {"<identifier>": ["read"]}`);
    assert.equal((await server.admin('GET', '/clients/ambiguous')).status, 404, 'nothing was stored');
  });
});
