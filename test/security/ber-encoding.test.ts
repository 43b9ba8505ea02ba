// Attack class: BER where X.509 requires DER (RFC 5280 §4.1, X.690 §10-11) in a certificate signed
// by the trusted client CA: indefinite lengths, non-minimal lengths and non-canonical BOOLEANs.
// Two parsers that disagree on such bytes disagree on what the certificate says; certbound refuses
// them as unparsable, with 401 invalid_client naming the extension, never a 500.
import { describe, it, before, after, beforeEach } from 'node:test';
import {
  attempt, craftCertificate, ensureServing, expectRefusal, expectStillServing, presenting, registerWorld, startSecurityServer,
  type CertFiles, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';

const unparsable = (extension: string) => new RegExp(`^client certificate could not be parsed \\(.*${extension}.*\\)$`);
const KEY_USAGE = 'keyUsage=critical,digitalSignature';

const CASES: Array<{ name: string; title: string; extensions: string[]; names: string }> = [
  {
    name: 'ber-eku-indefinite',
    title: 'extendedKeyUsage SEQUENCE with an indefinite length (30 80 … 00 00)',
    extensions: ['basicConstraints=critical,CA:FALSE', KEY_USAGE, 'extendedKeyUsage=DER:30:80:06:08:2b:06:01:05:05:07:03:02:00:00'],
    names: 'extendedKeyUsage',
  },
  {
    name: 'ber-eku-long-length',
    title: 'extendedKeyUsage SEQUENCE with a non-minimal long-form length (30 81 0a)',
    extensions: ['basicConstraints=critical,CA:FALSE', KEY_USAGE, 'extendedKeyUsage=DER:30:81:0a:06:08:2b:06:01:05:05:07:03:02'],
    names: 'extendedKeyUsage',
  },
  {
    name: 'ber-boolean-01',
    title: 'basicConstraints cA BOOLEAN encoded as 0x01 (DER: 0xff)',
    extensions: ['basicConstraints=critical,DER:30:03:01:01:01', KEY_USAGE, 'extendedKeyUsage=clientAuth'],
    names: 'basicConstraints',
  },
  {
    name: 'ber-boolean-empty',
    title: 'basicConstraints cA BOOLEAN with no content octet',
    extensions: ['basicConstraints=critical,DER:30:02:01:00', KEY_USAGE, 'extendedKeyUsage=clientAuth'],
    names: 'basicConstraints',
  },
];

describe('BER in place of DER in client certificate extensions (X.690 §10, RFC 5280 §4.1)', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  const certs: Record<string, CertFiles> = {};

  before(async () => {
    server = await startSecurityServer();
    world = await registerWorld(server);
    for (const c of CASES) {
      certs[c.name] = await craftCertificate(server.pki, { name: c.name, subject: `CN=${c.name},O=certbound tests`, issuer: server.pki.root, extensions: c.extensions });
      await world.tlsClient(c.name, { tls_client_auth_subject_dn: certs[c.name].subject });
    }
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  for (const c of CASES) {
    it(`refuses ${c.title}: 401 naming ${c.names}, not 500`, async () => {
      const tried = await attempt(server, c.name, presenting(certs[c.name]));
      expectRefusal(tried, 401, 'invalid_client', unparsable(c.names));
      await expectStillServing(server, world.legit);
    });
  }
});
