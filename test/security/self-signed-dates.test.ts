// Attack class: a self_signed_tls_client_auth client (RFC 8705 §2.2) whose registered certificate
// is outside its validity period. §2.2 pins the certificate itself, without a chain, so nothing
// but certbound checks its dates: a stolen key whose certificate expired, or a certificate
// registered ahead of its notBefore, must not authenticate.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import {
  attempt, ensureServing, expectRefusal, expectStillServing, expectToken, presenting, registerWorld, startSecurityServer,
  thumbprintOfPem, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';

const DAY = 86_400_000;

describe('RFC 8705 §2.2 validity period of a registered self-signed certificate', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  const certs: Record<string, IssuedCertificate> = {};

  before(async () => {
    server = await startSecurityServer();
    world = await registerWorld(server);
    certs.future = await issueCertificate({ subject: 'CN=future robot', notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 30 * DAY) });
    certs.expired = await issueCertificate({ subject: 'CN=expired robot', notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
    certs.current = await issueCertificate({ subject: 'CN=current robot', days: 5 });
    // Registered through the admin API as the client's jwks (RFC 7517 §4.7 x5c), the way an
    // operator would: POST /admin/v1/clients takes them (only POST …/certificates refuses an expired one).
    await world.selfSignedClient('future-robot', certs.future);
    await world.selfSignedClient('expired-robot', certs.expired);
    await world.selfSignedClient('current-robot', certs.current);
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  it('the admin API registered both certificates as the clients\' jwks', async () => {
    for (const [client, cert] of [['future-robot', certs.future], ['expired-robot', certs.expired]] as const) {
      const res = await server.admin('GET', `/clients/${client}`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.jwks.keys.map((k) => (k.x5c as string[])[0]), [cert.cert.raw.toString('base64')]);
    }
  });

  it('refuses a registered self-signed certificate that is not yet valid', async () => {
    const tried = await attempt(server, 'future-robot', presenting(certs.future));
    expectRefusal(tried, 401, 'invalid_client', `certificate not valid before ${certs.future.cert.validFromDate.toISOString()}`);
    await expectStillServing(server, world.legit);
  });

  it('refuses a registered self-signed certificate that has expired', async () => {
    const tried = await attempt(server, 'expired-robot', presenting(certs.expired));
    expectRefusal(tried, 401, 'invalid_client', `certificate expired at ${certs.expired.cert.validToDate.toISOString()}`);
    await expectStillServing(server, world.legit);
  });

  it('accepts a registered self-signed certificate within its validity period', async () => {
    expectToken(await attempt(server, 'current-robot', presenting(certs.current)), thumbprintOfPem(certs.current.certPem));
  });
});
