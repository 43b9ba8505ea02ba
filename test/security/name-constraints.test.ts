// Attack class: a partner's intermediate CA constrained to its own names (RFC 5280 §4.2.1.10
// nameConstraints) issues a certificate for a name outside them. The constraint is NOT critical
// here (as many real CAs mark it, against the RFC's MUST), so a validator that only refuses
// unknown critical extensions would accept the certificate: certbound must apply it, whether the
// intermediate is presented by the client or held in the trust store.
import { describe, it, before, after, beforeEach } from 'node:test';
import {
  CA_EXTENSIONS, LEAF_EXTENSIONS, attempt, craftCertificate, ensureServing, expectRefusal, expectStillServing, expectToken, makeSecurityPki,
  presenting, registerWorld, startSecurityServer, type CertFiles, type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';

describe('RFC 5280 §4.2.1.10 nameConstraints of an issuing intermediate', () => {
  let server: SecurityServer;
  let world: SecurityWorld;
  const ca: Record<string, CertFiles> = {};
  const leaf: Record<string, CertFiles> = {};

  before(async () => {
    const pki = await makeSecurityPki();
    const intermediate = (name: string, constraint: string[]) => craftCertificate(pki, {
      name, subject: `CN=${name},O=certbound tests`, issuer: pki.root, extensions: [...CA_EXTENSIONS, ...constraint],
    });
    ca.presented = await intermediate('partner presented CA', ['nameConstraints=permitted;DNS:partner.example']);
    ca.stored = await intermediate('partner stored CA', ['nameConstraints=permitted;DNS:partner.example']);
    ca.excluding = await intermediate('excluding CA', ['nameConstraints=excluded;dirName:excluded_subtree', '[excluded_subtree]', 'O=Forbidden Org']);
    const issue = (name: string, issuer: CertFiles, subject: string, dns?: string) => craftCertificate(pki, {
      name, subject, issuer, extensions: [...LEAF_EXTENSIONS, ...(dns ? [`subjectAltName=DNS:${dns}`] : [])],
    });
    leaf.evilPresented = await issue('evil-presented', ca.presented, 'CN=evil presented,O=certbound tests', 'evil.example.org');
    leaf.goodPresented = await issue('good-presented', ca.presented, 'CN=good presented,O=certbound tests', 'api.partner.example');
    leaf.evilStored = await issue('evil-stored', ca.stored, 'CN=evil stored,O=certbound tests', 'evil.example.org');
    leaf.goodStored = await issue('good-stored', ca.stored, 'CN=good stored,O=certbound tests', 'api.partner.example');
    leaf.excluded = await issue('excluded', ca.excluding, 'CN=blocked,O=Forbidden Org');
    leaf.notExcluded = await issue('not-excluded', ca.excluding, 'CN=allowed,O=Allowed Org');

    server = await startSecurityServer({ pki, clientCaPem: [pki.clientRoot.certPem, ca.stored.certPem].join('\n') });
    world = await registerWorld(server);
    // Both evil certificates claim one registered name; the permitted ones another.
    await world.tlsClient('evil', { tls_client_auth_san_dns: 'evil.example.org' });
    await world.tlsClient('partner', { tls_client_auth_san_dns: 'api.partner.example' });
    await world.tlsClient('blocked', { tls_client_auth_subject_dn: 'CN=blocked,O=Forbidden Org' });
    await world.tlsClient('allowed', { tls_client_auth_subject_dn: 'CN=allowed,O=Allowed Org' });
  });

  after(async () => { await server?.stop(); });
  beforeEach(async () => { await ensureServing(server); });

  describe('permitted dNSName subtree partner.example, intermediate presented by the client', () => {
    it('refuses a leaf with SAN DNS evil.example.org', async () => {
      const tried = await attempt(server, 'evil', presenting(leaf.evilPresented, [ca.presented]));
      expectRefusal(tried, 401, 'invalid_client',
        'certificate DNS name "evil.example.org" is not permitted by the nameConstraints of issuer CN=partner presented CA,O=certbound tests');
      await expectStillServing(server, world.legit);
    });

    it('accepts a leaf with SAN DNS api.partner.example', async () => {
      expectToken(await attempt(server, 'partner', presenting(leaf.goodPresented, [ca.presented])), leaf.goodPresented.thumbprint);
    });
  });

  describe('permitted dNSName subtree partner.example, intermediate held in CLIENT_CA_FILE', () => {
    it('refuses a leaf with SAN DNS evil.example.org', async () => {
      const tried = await attempt(server, 'evil', presenting(leaf.evilStored));
      expectRefusal(tried, 401, 'invalid_client',
        'certificate DNS name "evil.example.org" is not permitted by the nameConstraints of issuer CN=partner stored CA,O=certbound tests');
      await expectStillServing(server, world.legit);
    });

    it('accepts a leaf with SAN DNS api.partner.example', async () => {
      expectToken(await attempt(server, 'partner', presenting(leaf.goodStored)), leaf.goodStored.thumbprint);
    });
  });

  describe('excluded directoryName subtree O=Forbidden Org', () => {
    it('refuses a leaf whose subject lies in the excluded subtree', async () => {
      const tried = await attempt(server, 'blocked', presenting(leaf.excluded, [ca.excluding]));
      expectRefusal(tried, 401, 'invalid_client',
        'certificate subject "CN=blocked,O=Forbidden Org" is excluded by the nameConstraints of issuer CN=excluding CA,O=certbound tests');
      await expectStillServing(server, world.legit);
    });

    it('accepts a leaf whose subject lies outside it', async () => {
      expectToken(await attempt(server, 'allowed', presenting(leaf.notExcluded, [ca.excluding])), leaf.notExcluded.thumbprint);
    });
  });
});
