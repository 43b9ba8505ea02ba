// Attack class: a CA allowed to issue only TLS server certificates (its own extendedKeyUsage is
// serverAuth) issues a clientAuth leaf. RFC 5280 leaves EKU in CA certificates to the application;
// like the CA/Browser Forum profiles and `openssl verify -purpose sslclient`, certbound reads an
// issuer's EKU as the limit of what it may issue, so a server-only intermediate cannot mint client
// identities. As in OpenSSL, anyExtendedKeyUsage alone does not stand for clientAuth.
import { describe, it, before, after, beforeEach } from 'node:test';
import {
  CA_EXTENSIONS, LEAF_EXTENSIONS, attempt, craftCertificate, ensureServing, expectRefusal, expectStillServing, expectToken,
  presenting, registerWorld, startSecurityServer, type CertFiles, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';

describe('extendedKeyUsage of an issuing intermediate (RFC 5280 §4.2.1.12)', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  const certs: Record<string, CertFiles> = {};

  before(async () => {
    server = await startSecurityServer();
    world = await registerWorld(server);
    const { pki } = server;
    const intermediate = (name: string, eku: string) => craftCertificate(pki, {
      name, subject: `CN=${name},O=certbound tests`, issuer: pki.root, extensions: [...CA_EXTENSIONS, `extendedKeyUsage=${eku}`],
    });
    certs.serverOnlyCa = await intermediate('server-only CA', 'serverAuth');
    certs.clientCa = await intermediate('client CA', 'clientAuth');
    certs.anyCa = await intermediate('any-purpose CA', 'anyExtendedKeyUsage');
    for (const [name, issuer] of [['via-server-only', certs.serverOnlyCa], ['via-client', certs.clientCa], ['via-any', certs.anyCa]] as const) {
      certs[name] = await craftCertificate(pki, { name, subject: `CN=${name},O=certbound tests`, issuer, extensions: LEAF_EXTENSIONS });
      await world.tlsClient(name, { tls_client_auth_subject_dn: certs[name].subject });
    }
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  it('refuses a clientAuth leaf issued by an intermediate whose EKU is serverAuth only', async () => {
    const tried = await attempt(server, 'via-server-only', presenting(certs['via-server-only'], [certs.serverOnlyCa]));
    expectRefusal(tried, 401, 'invalid_client',
      'issuer CN=server-only CA,O=certbound tests extendedKeyUsage does not include clientAuth, so it cannot issue TLS client certificates');
    await expectStillServing(server, world.legit);
  });

  it('refuses a clientAuth leaf issued by an intermediate whose EKU is anyExtendedKeyUsage only', async () => {
    const tried = await attempt(server, 'via-any', presenting(certs['via-any'], [certs.anyCa]));
    expectRefusal(tried, 401, 'invalid_client',
      'issuer CN=any-purpose CA,O=certbound tests extendedKeyUsage does not include clientAuth, so it cannot issue TLS client certificates');
    await expectStillServing(server, world.legit);
  });

  it('accepts a leaf issued by an intermediate whose EKU is clientAuth', async () => {
    expectToken(await attempt(server, 'via-client', presenting(certs['via-client'], [certs.clientCa])), certs['via-client'].thumbprint);
  });
});
