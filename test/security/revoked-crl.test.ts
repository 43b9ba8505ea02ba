// Attack class: a client keeps using a certificate after its CA revoked it, and a CRL is the only
// place that says so: the CRL distribution point the certificate names (RFC 5280 §4.2.1.13,
// fetched over http), or CLIENT_CRL_FILE, the operator's own PEM bundle, for certificates that
// name no source. certbound refuses the client, naming serial, reason and source. An operator who
// revokes a certificate by rewriting CLIENT_CRL_FILE while the server runs is obeyed within
// seconds (the file's mtime is looked at at most once a second), without a restart.
//
// The CA is a real `openssl ca` with an index.txt; its CRLs come from `openssl ca -gencrl`, served
// on a loopback server (apps/authz-server/test/mtls/revocation/fixture.ts).
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, before, after, beforeEach } from 'node:test';
import { createFixture, type Fixture } from '../../apps/authz-server/test/mtls/revocation/fixture.ts';
import {
  attempt, ensureServing, expectRefusal, expectStillServing, expectToken, makeSecurityPki, registerWorld, startSecurityServer,
  type SecurityServer, type SecurityWorld,
} from '../support/security-server.ts';
import { identityOf, revokedAt } from '../support/revocation-identities.ts';

describe('a certificate revoked on a CRL (RFC 5280 §5)', () => {
  let fixture: Fixture;
  let server: SecurityServer;
  let world: SecurityWorld;
  let crlFile: string;
  // named by its CRL distribution point
  let dpRevoked: X509Certificate;
  let dpGood: X509Certificate;
  // naming no source: only CLIENT_CRL_FILE speaks for them
  let fileRevoked: X509Certificate;
  let fileGood: X509Certificate;
  let revokedLater: X509Certificate;

  /** replaces CLIENT_CRL_FILE in one step (rename), as an operator's deploy tool would */
  const writeCrlFile = async (der: Buffer) => {
    await writeFile(`${crlFile}.new`, fixture.pemOf(der));
    await rename(`${crlFile}.new`, crlFile);
  };

  before(async () => {
    fixture = await createFixture();
    const crl = [`${fixture.base}/ca.crl`];
    dpRevoked = await fixture.issue('crl revoked partner', { crl });
    dpGood = await fixture.issue('crl good partner', { crl });
    fileRevoked = await fixture.issue('file revoked partner');
    fileGood = await fixture.issue('file good partner');
    revokedLater = await fixture.issue('file revoked later partner');

    // CLIENT_CRL_FILE: the CA's CRL as it was when only fileRevoked was revoked. The distribution
    // point then serves a newer CRL that also lists dpRevoked, so each source is judged on its own.
    await fixture.revoke(fileRevoked, 'affiliationChanged');
    const pki = await makeSecurityPki();
    crlFile = join(pki.dir, 'client-crls.pem');
    await writeCrlFile(await fixture.gencrl());
    await fixture.revoke(dpRevoked, 'keyCompromise');
    fixture.crlDer = await fixture.gencrl();

    server = await startSecurityServer({ pki, clientCaPem: `${pki.clientRoot.certPem}\n${fixture.ca.toString()}`, env: { REVOCATION_CHECK: 'soft', CLIENT_CRL_FILE: crlFile } });
    world = await registerWorld(server);
    for (const cn of ['crl revoked partner', 'crl good partner', 'file revoked partner', 'file good partner', 'file revoked later partner']) {
      await world.tlsClient(cn.replaceAll(' ', '-'), { tls_client_auth_subject_dn: `CN=${cn}` });
    }
  });

  after(async () => {
    await server?.stop();
    await fixture?.dispose();
  });
  beforeEach(async () => { await ensureServing(server); });

  it('refuses a certificate its CRL distribution point lists (keyCompromise), naming serial, reason and source', async () => {
    const { identity } = await identityOf(fixture, dpRevoked);
    const fetched = fixture.hits.get('/ca.crl') ?? 0;
    const tried = await attempt(server, 'crl-revoked-partner', identity);
    expectRefusal(tried, 401, 'invalid_client',
      `certificate serial ${dpRevoked.serialNumber} (CN=crl revoked partner) is revoked since ${await revokedAt(fixture, dpRevoked)}: keyCompromise (reason code 1), according to its CRL`);
    assert.equal((fixture.hits.get('/ca.crl') ?? 0) - fetched, 1, 'the CRL was fetched once from the distribution point');
    await expectStillServing(server, world.legit);
  });

  it('issues a token to a sibling certificate with the same distribution point that the CRL does not list', async () => {
    const { identity, thumbprint } = await identityOf(fixture, dpGood);
    expectToken(await attempt(server, 'crl-good-partner', identity), thumbprint);
    assert.equal(fixture.hits.get('/ocsp') ?? 0, 0, 'no certificate here names an OCSP responder');
  });

  it('refuses a certificate that names no source when CLIENT_CRL_FILE lists it', async () => {
    const { identity } = await identityOf(fixture, fileRevoked);
    const tried = await attempt(server, 'file-revoked-partner', identity);
    expectRefusal(tried, 401, 'invalid_client',
      `certificate serial ${fileRevoked.serialNumber} (CN=file revoked partner) is revoked since ${await revokedAt(fixture, fileRevoked)}: affiliationChanged (reason code 3), according to CLIENT_CRL_FILE`);
    await expectStillServing(server, world.legit);
  });

  it('issues a token to a certificate that names no source and that CLIENT_CRL_FILE does not list', async () => {
    const { identity, thumbprint } = await identityOf(fixture, fileGood);
    expectToken(await attempt(server, 'file-good-partner', identity), thumbprint);
  });

  it('obeys a rewrite of CLIENT_CRL_FILE while running: a newly listed certificate is refused within seconds on a new connection', async () => {
    await fixture.revoke(revokedLater, 'superseded');
    await writeCrlFile(await fixture.gencrl());
    const rewritten = Date.now();
    // The file's mtime is looked at at most once a second (README "Revocation"); the certificate
    // has never been presented, so no earlier verdict or answer can stand in the way.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { identity } = await identityOf(fixture, revokedLater);
    const tried = await attempt(server, 'file-revoked-later-partner', identity); // timedRequest: agent false, a new TLS connection
    expectRefusal(tried, 401, 'invalid_client',
      `certificate serial ${revokedLater.serialNumber} (CN=file revoked later partner) is revoked since ${await revokedAt(fixture, revokedLater)}: superseded (reason code 4), according to CLIENT_CRL_FILE`);
    assert.ok(Date.now() - rewritten < 5_000, `refused ${Date.now() - rewritten} ms after the rewrite`);
    // The earlier entries are still in force, and a certificate the new file does not list still passes.
    expectRefusal(await attempt(server, 'file-revoked-partner', (await identityOf(fixture, fileRevoked)).identity), 401, 'invalid_client',
      `certificate serial ${fileRevoked.serialNumber} (CN=file revoked partner) is revoked since ${await revokedAt(fixture, fileRevoked)}: affiliationChanged (reason code 3), according to CLIENT_CRL_FILE`);
    await expectStillServing(server, world.legit);
  });
});
