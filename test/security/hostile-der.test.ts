// Attack class: hostile DER in a client certificate's extensions (lengths running past the end,
// impossible BIT STRING headers, deep nesting), sent over real TLS to a real server process.
// DESIGN.md "Security rules": everything parsed from the network can refuse, never hang, crash or
// answer 500. Each attack must get 401 invalid_client naming the extension, within the liveness
// bound, with one oauth_refusal log line, and the server must go on serving.
import { describe, it, before, after, beforeEach } from 'node:test';
import { issueCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import {
  LEAF_EXTENSIONS, attempt, craftCertificate, ensureServing, expectRefusal, expectStillServing, expectToken, presenting, registerWorld,
  startSecurityServer, type CertFiles, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';
import assert from 'node:assert/strict';

/** An OID whose long-form length (4 octets follow) runs past the end of the extension. */
const EKU_LENGTH_PAST_END = 'extendedKeyUsage=DER:30:02:06:84';
const unparsable = (extension: string) => new RegExp(`^client certificate could not be parsed \\(.*${extension}.*\\)$`);

/** n nested BER indefinite-length SEQUENCEs, closed by n end-of-contents octets. */
const nestedIndefinite = (n: number) => `${Array(n).fill('30:80').join(':')}:${Array(n).fill('00:00').join(':')}`;

describe('hostile DER in client certificate extensions (RFC 5280 §4.2, X.690 §10)', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  const certs: Record<string, CertFiles> = {};

  before(async () => {
    server = await startSecurityServer();
    world = await registerWorld(server);
    const { pki } = server;
    const trusted = (name: string, extensions: string[]) => craftCertificate(pki, { name, subject: `CN=${name},O=certbound tests`, issuer: pki.root, extensions });
    certs.selfSignedEku = await craftCertificate(pki, { name: 'self-signed-eku', subject: 'CN=hostile robot', issuer: 'self', extensions: ['basicConstraints=critical,CA:FALSE', EKU_LENGTH_PAST_END] });
    certs.trustedEku = await trusted('hostile-eku', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', EKU_LENGTH_PAST_END]);
    certs.eku4g = await trusted('hostile-eku-4g', ['basicConstraints=critical,CA:FALSE', 'extendedKeyUsage=DER:30:06:06:84:ff:ff:ff:ff']);
    // BIT STRING whose first octet claims 255 unused bits (X.690 §8.6.2.2 allows 0 to 7).
    certs.keyUsageUnusedBits = await trusted('hostile-ku', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,DER:03:02:ff:80', 'extendedKeyUsage=clientAuth']);
    // dNSName [2] of length 127 with one octet present; and a 4-octet long-form length.
    certs.sanPastEnd = await trusted('hostile-san', [...LEAF_EXTENSIONS, 'subjectAltName=DER:30:03:82:7f:61']);
    certs.sanLongForm = await trusted('hostile-san-4g', [...LEAF_EXTENSIONS, 'subjectAltName=DER:30:06:82:84:ff:ff:ff:ff']);
    // 2 000 nested indefinite-length SEQUENCEs in an extension certbound must read, then in one it may skip.
    certs.sanNested = await trusted('hostile-san-nested', [...LEAF_EXTENSIONS, `subjectAltName=DER:${nestedIndefinite(2000)}`]);
    certs.unknownCritical = await trusted('hostile-unknown-critical', [...LEAF_EXTENSIONS, `1.2.3.4=critical,DER:${nestedIndefinite(2000)}`]);
    certs.unknownNonCritical = await trusted('hostile-unknown', [...LEAF_EXTENSIONS, `1.2.3.4=DER:${nestedIndefinite(2000)}`]);

    const robot = await issueCertificate({ subject: 'CN=hostile robot', days: 5 });
    await world.selfSignedClient('robot', robot);
    for (const [client, cert] of Object.entries(certs)) {
      if (cert.subject !== 'CN=hostile robot') await world.tlsClient(client, { tls_client_auth_subject_dn: cert.subject });
    }
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  describe('an OBJECT IDENTIFIER in extendedKeyUsage whose length runs past the end (30 02 06 84)', () => {
    it('self-signed, presented to a self_signed_tls_client_auth client: 401, not a hang', async () => {
      const tried = await attempt(server, 'robot', presenting(certs.selfSignedEku));
      expectRefusal(tried, 401, 'invalid_client', unparsable('extendedKeyUsage'));
      await expectStillServing(server, world.legit);
    });

    it('signed by the trusted client CA, presented to the tls_client_auth client registered for its subject', async () => {
      const tried = await attempt(server, 'trustedEku', presenting(certs.trustedEku));
      expectRefusal(tried, 401, 'invalid_client', unparsable('extendedKeyUsage'));
      await expectStillServing(server, world.legit);
    });

    it('signed by the trusted client CA, presented to a self_signed_tls_client_auth client', async () => {
      const tried = await attempt(server, 'robot', presenting(certs.trustedEku));
      expectRefusal(tried, 401, 'invalid_client', unparsable('extendedKeyUsage'));
      await expectStillServing(server, world.legit);
    });

    it('with a 4-octet length of 0xffffffff', async () => {
      const tried = await attempt(server, 'eku4g', presenting(certs.eku4g));
      expectRefusal(tried, 401, 'invalid_client', unparsable('extendedKeyUsage'));
      await expectStillServing(server, world.legit);
    });
  });

  it('refuses a keyUsage BIT STRING claiming 255 unused bits', async () => {
    const tried = await attempt(server, 'keyUsageUnusedBits', presenting(certs.keyUsageUnusedBits));
    expectRefusal(tried, 401, 'invalid_client', unparsable('keyUsage'));
    await expectStillServing(server, world.legit);
  });

  it('refuses a subjectAltName dNSName whose length runs past the end', async () => {
    const tried = await attempt(server, 'sanPastEnd', presenting(certs.sanPastEnd));
    expectRefusal(tried, 401, 'invalid_client', unparsable('subjectAltName'));
    await expectStillServing(server, world.legit);
  });

  it('refuses a subjectAltName dNSName with a 4-octet length of 0xffffffff', async () => {
    const tried = await attempt(server, 'sanLongForm', presenting(certs.sanLongForm));
    expectRefusal(tried, 401, 'invalid_client', unparsable('subjectAltName'));
    await expectStillServing(server, world.legit);
  });

  it('refuses a subjectAltName of 2 000 nested indefinite-length SEQUENCEs (no stack exhaustion)', async () => {
    const tried = await attempt(server, 'sanNested', presenting(certs.sanNested));
    expectRefusal(tried, 401, 'invalid_client', unparsable('subjectAltName'));
    await expectStillServing(server, world.legit);
  });

  it('refuses an unknown CRITICAL extension of 2 000 nested SEQUENCEs as unprocessed (RFC 5280 §4.2)', async () => {
    const tried = await attempt(server, 'unknownCritical', presenting(certs.unknownCritical));
    expectRefusal(tried, 401, 'invalid_client', 'certificate carries a critical extension certbound does not process: 1.2.3.4');
    await expectStillServing(server, world.legit);
  });

  it('an unknown NON-critical extension of 2 000 nested SEQUENCEs: answered in time, never a 500', async () => {
    // RFC 5280 §4.2: a non-critical extension that is not recognised may be ignored, so a token is
    // a correct answer here; a parser that reads it anyway may refuse it as unparsable instead.
    const tried = await attempt(server, 'unknownNonCritical', presenting(certs.unknownNonCritical));
    if (tried.res.status === 200) expectToken(tried, certs.unknownNonCritical.thumbprint);
    else expectRefusal(tried, 401, 'invalid_client', unparsable('1\\.2\\.3\\.4'));
    assert.ok(tried.res.status === 200 || tried.res.status === 401);
    await expectStillServing(server, world.legit);
  });
});
