// TLS session resumption on the mutual-TLS listener: a partner that opens a connection per call
// resumes its session instead of a full handshake, and still gets a token bound to its
// certificate (RFC 8705 §3) — also when it relies on presenting its intermediate CA.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { decodeJwt } from '../support/oauth.ts';
import { requestOverTls } from '../../apps/authz-server/test/http/tls-client.ts';

const RESOURCE = 'https://resumption.test';

const thumbprint = (cert: IssuedCertificate) => createHash('sha256').update(cert.cert.raw).digest('base64url');

describe('TLS session resumption (RFC 8446 §2.2, RFC 5077) on the mutual-TLS listener', () => {
  let as: TestAuthz;
  let direct: IssuedCertificate;
  let viaPartner: IssuedCertificate;
  let partnerIntermediate: IssuedCertificate;

  before(async () => {
    const pki = await makeTestPki();
    direct = await issueCertificate({ subject: 'CN=resuming-client,O=certbound tests', issuer: pki.clientRoot, days: 5 });
    partnerIntermediate = await issueCertificate({ subject: 'CN=resumption partner CA,O=certbound tests', issuer: pki.clientRoot, ca: true, pathLength: 0, days: 5 });
    viaPartner = await issueCertificate({ subject: 'CN=resuming-partner,O=certbound tests', issuer: partnerIntermediate, days: 5 });
    as = await startTestAuthz({ pki });
    await as.registerResource({ identifier: RESOURCE, scopes: ['ledger:read'] });
    const base = { grant_types: ['client_credentials'], response_types: [], default_resource: RESOURCE, scope: 'ledger:read', token_endpoint_auth_method: 'tls_client_auth' };
    await as.register({ ...base, client_id: 'resuming', tls_client_auth_subject_dn: 'CN=resuming-client,O=certbound tests' });
    await as.register({ ...base, client_id: 'partner', tls_client_auth_subject_dn: 'CN=resuming-partner,O=certbound tests' });
  });

  after(async () => { await as?.close(); });

  function token(clientId: string, cert: IssuedCertificate, chain: IssuedCertificate[], session?: Buffer) {
    return requestOverTls(`${as.mtlsUrl}/token`, {
      ca: as.ca,
      cert: [cert.certPem, ...chain.map((c) => c.certPem)].join(''),
      key: cert.keyPem,
      session,
      form: { grant_type: 'client_credentials', client_id: clientId },
    });
  }

  it('resumes the session of a previous connection and binds the token to the same certificate', async () => {
    const first = await token('resuming', direct, []);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.reused, false);
    assert.ok(first.session, 'the server sent a session ticket');
    for (let i = 0; i < 3; i++) {
      const again = await token('resuming', direct, [], first.session);
      assert.equal(again.reused, true, `connection ${i + 2} resumed`);
      assert.equal(again.status, 200, JSON.stringify(again.json));
      assert.equal(decodeJwt(again.json.access_token).payload.cnf['x5t#S256'], thumbprint(direct));
    }
  });

  it('keeps accepting a client that presents its intermediate after it resumes', async () => {
    const first = await token('partner', viaPartner, [partnerIntermediate]);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const resumed = await token('partner', viaPartner, [partnerIntermediate], first.session);
    assert.equal(resumed.reused, true);
    assert.equal(resumed.status, 200, JSON.stringify(resumed.json));
    assert.equal(decodeJwt(resumed.json.access_token).payload.cnf['x5t#S256'], thumbprint(viaPartner));
  });

  it('does not resume a public-listener session on the mutual-TLS listener', async () => {
    const pub = await requestOverTls(`${as.publicUrl}/.well-known/openid-configuration`, { ca: as.ca });
    assert.equal(pub.status, 200);
    assert.ok(pub.session);
    const crossed = await token('resuming', direct, [], pub.session);
    assert.equal(crossed.reused, false);
    assert.equal(crossed.status, 200, JSON.stringify(crossed.json));
  });
});
