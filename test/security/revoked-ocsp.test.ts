// Attack class: a client keeps using a certificate after its CA revoked it (key compromise), and
// its OCSP responder (AIA, RFC 6960) is the only place that says so. certbound asks the responder
// the certificate names and refuses the client, naming serial, reason and source. The other half
// of the attack: a certificate that does NOT chain to a trusted client CA names the responder (or
// any address) in its AIA / CRL distribution point, to make certbound send requests for it
// (SSRF, a probe of the network, load on a third party). RFC 5280 §6.3 checks revocation only
// for a validated path, so such a certificate must cause no request at all.
//
// The CA is a real `openssl ca` with an index.txt, and its responder runs `openssl ocsp` for each
// POST on a loopback server (apps/authz-server/test/mtls/revocation/fixture.ts).
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { describe, it, before, after, beforeEach } from 'node:test';
import { createFixture, type Fixture } from '../../apps/authz-server/test/mtls/revocation/fixture.ts';
import {
  LEAF_EXTENSIONS, attempt, craftCertificate, ensureServing, expectRefusal, expectStillServing, expectToken, makeSecurityPki,
  startSecurityServer, type CertFiles, type SecurityServer, type SecurityWorld, registerWorld,
} from '../support/security-server.ts';
import { identityOf, revokedAt } from '../support/revocation-identities.ts';

describe('a certificate revoked at its OCSP responder (RFC 6960)', () => {
  let fixture: Fixture;
  let server: SecurityServer;
  let world: SecurityWorld;
  let revoked: X509Certificate;
  let good: X509Certificate;
  let untrusted: CertFiles;
  let impostor: CertFiles;

  before(async () => {
    fixture = await createFixture();
    const ocsp = [`${fixture.base}/ocsp`];
    revoked = await fixture.issue('ocsp revoked partner', { ocsp });
    good = await fixture.issue('ocsp good partner', { ocsp });
    await fixture.revoke(revoked, 'keyCompromise');

    const pki = await makeSecurityPki();
    // Not trusted: a CA of another name, and one with the trusted CA's exact name but another key.
    // Both certificates name the loopback server, which counts every request by path.
    untrusted = await craftCertificate(pki, {
      name: 'untrusted-ocsp', subject: 'CN=untrusted ocsp partner', issuer: { certFile: join(fixture.dir, 'unrelated.pem'), keyFile: join(fixture.dir, 'unrelated.key') } as CertFiles,
      extensions: [...LEAF_EXTENSIONS, `authorityInfoAccess=OCSP;URI:${fixture.base}/untrusted-ocsp`, `crlDistributionPoints=URI:${fixture.base}/untrusted.crl`],
    });
    impostor = await craftCertificate(pki, {
      name: 'impostor-ocsp', subject: 'CN=impostor ocsp partner', issuer: { certFile: join(fixture.dir, 'impostor.pem'), keyFile: join(fixture.dir, 'impostor.key') } as CertFiles,
      extensions: [...LEAF_EXTENSIONS, `authorityInfoAccess=OCSP;URI:${fixture.base}/ocsp`, `crlDistributionPoints=URI:${fixture.base}/ca.crl`],
    });

    server = await startSecurityServer({ pki, clientCaPem: `${pki.clientRoot.certPem}\n${fixture.ca.toString()}`, env: { REVOCATION_CHECK: 'soft' } });
    world = await registerWorld(server);
    await world.tlsClient('ocsp-revoked', { tls_client_auth_subject_dn: 'CN=ocsp revoked partner' });
    await world.tlsClient('ocsp-good', { tls_client_auth_subject_dn: 'CN=ocsp good partner' });
    await world.tlsClient('untrusted', { tls_client_auth_subject_dn: untrusted.subject });
    await world.tlsClient('impostor', { tls_client_auth_subject_dn: impostor.subject });
  });

  after(async () => {
    await server?.stop();
    await fixture?.dispose();
  });
  beforeEach(async () => { await ensureServing(server); });

  it('refuses a certificate its OCSP responder says is revoked (keyCompromise), naming serial, reason and source', async () => {
    const { identity } = await identityOf(fixture, revoked);
    const asked = fixture.hits.get('/ocsp') ?? 0;
    const tried = await attempt(server, 'ocsp-revoked', identity);
    expectRefusal(tried, 401, 'invalid_client',
      `certificate serial ${revoked.serialNumber} (CN=ocsp revoked partner) is revoked since ${await revokedAt(fixture, revoked)}: keyCompromise (reason code 1), according to its OCSP responder`);
    assert.equal((fixture.hits.get('/ocsp') ?? 0) - asked, 1, 'one OCSP request for the revoked certificate');
    await expectStillServing(server, world.legit);
  });

  it('issues a token to a sibling certificate of the same CA that its responder says is good', async () => {
    const { identity, thumbprint } = await identityOf(fixture, good);
    const asked = fixture.hits.get('/ocsp') ?? 0;
    expectToken(await attempt(server, 'ocsp-good', identity), thumbprint);
    assert.equal((fixture.hits.get('/ocsp') ?? 0) - asked, 1, 'one OCSP request for the good certificate');
  });

  it('sends no request for a certificate of an untrusted CA that names a responder and a CRL', async () => {
    const before = new Map(fixture.hits);
    const tried = await attempt(server, 'untrusted', { cert: untrusted.certPem, key: untrusted.keyPem });
    expectRefusal(tried, 401, 'invalid_client', 'certificate chain does not lead to a trusted client CA (issuer CN=Unrelated CA,O=elsewhere)');
    await new Promise((resolve) => setTimeout(resolve, 200)); // a request sent late would still arrive
    assert.equal(fixture.hits.get('/untrusted-ocsp') ?? 0, 0, 'no OCSP request to the address the untrusted certificate names');
    assert.equal(fixture.hits.get('/untrusted.crl') ?? 0, 0, 'no CRL request to the address the untrusted certificate names');
    assert.deepEqual(fixture.hits, before, 'no request of any kind reached the loopback server');
    await expectStillServing(server, world.legit);
  });

  it("sends no request for a certificate signed with another key under the trusted CA's exact name", async () => {
    const before = new Map(fixture.hits);
    const tried = await attempt(server, 'impostor', { cert: impostor.certPem, key: impostor.keyPem });
    // Its authorityKeyIdentifier names another key, so the trusted CA is not even a candidate issuer.
    expectRefusal(tried, 401, 'invalid_client', 'certificate chain does not lead to a trusted client CA (issuer CN=Test CA,O=certbound test)');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(fixture.hits, before, "no OCSP or CRL request to the trusted CA's own responder for a certificate it did not sign");
    await expectStillServing(server, world.legit);
  });
});
