// Attack class: a CA certificate used as a client identity. A partner given an intermediate (or
// any certificate with cA=TRUE) must not also log in with it: RFC 5280 §4.2.1.9 separates the
// roles, and a CA key that signs TLS handshakes is a CA key exposed on every client host.
import { describe, it, before, after, beforeEach } from 'node:test';
import {
  attempt, craftCertificate, ensureServing, expectRefusal, expectStillServing, presenting, registerWorld, startSecurityServer,
  type CertFiles, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';

const REFUSAL = 'certificate is a CA certificate (basicConstraints cA=TRUE) and cannot authenticate a client';

describe('RFC 5280 §4.2.1.9 a CA certificate as the client certificate', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  const certs: Record<string, CertFiles> = {};

  before(async () => {
    server = await startSecurityServer();
    world = await registerWorld(server);
    const make = (name: string, extensions: string[]) => craftCertificate(server.pki, { name, subject: `CN=${name},O=certbound tests`, issuer: server.pki.root, extensions });
    // A full CA profile that also claims clientAuth and a handshake signature.
    certs['ca-leaf'] = await make('ca-leaf', ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign', 'extendedKeyUsage=clientAuth']);
    // cA=TRUE, non-critical, without keyCertSign: still a CA by basicConstraints.
    certs['ca-leaf-soft'] = await make('ca-leaf-soft', ['basicConstraints=CA:TRUE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth']);
    for (const name of Object.keys(certs)) await world.tlsClient(name, { tls_client_auth_subject_dn: certs[name].subject });
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  it('refuses a certificate with critical basicConstraints cA=TRUE registered by its subject DN', async () => {
    const tried = await attempt(server, 'ca-leaf', presenting(certs['ca-leaf']));
    expectRefusal(tried, 401, 'invalid_client', REFUSAL);
    await expectStillServing(server, world.legit);
  });

  it('refuses a certificate with non-critical cA=TRUE and no keyCertSign', async () => {
    const tried = await attempt(server, 'ca-leaf-soft', presenting(certs['ca-leaf-soft']));
    expectRefusal(tried, 401, 'invalid_client', REFUSAL);
    await expectStillServing(server, world.legit);
  });
});
