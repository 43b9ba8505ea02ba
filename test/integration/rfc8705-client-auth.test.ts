// RFC 8705 §2 client authentication at the token endpoint and §3 certificate-bound tokens,
// over real TLS with certificates made at test time.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';

const RESOURCE = 'https://settlements.test';
const DAY = 86_400_000;

function thumbprint(cert: IssuedCertificate): string {
  return createHash('sha256').update(cert.cert.raw).digest('base64url');
}

function identity(cert: IssuedCertificate, chain: IssuedCertificate[] = []) {
  return { cert: [cert.certPem, ...chain.map((c) => c.certPem)].join('\n'), key: cert.keyPem };
}

describe('RFC 8705 mutual-TLS client authentication', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let intermediateInStore: IssuedCertificate;
  let intermediateNotInStore: IssuedCertificate;
  const certs: Record<string, IssuedCertificate> = {};

  async function token(client_id: string, who: { cert?: string; key?: string } | undefined, extra: Record<string, string> = {}, url = `${as.mtlsUrl}/token`) {
    return https(url, { ca: as.ca, identity: who, form: { grant_type: 'client_credentials', client_id, ...extra } });
  }

  before(async () => {
    pki = await makeTestPki();
    intermediateInStore = await issueCertificate({ subject: 'CN=stored intermediate,O=certbound tests', issuer: pki.clientRoot, ca: true, pathLength: 0, days: 30 });
    intermediateNotInStore = await issueCertificate({ subject: 'CN=partner intermediate,O=certbound tests', issuer: pki.clientRoot, ca: true, pathLength: 0, days: 30 });
    const root = pki.clientRoot;
    certs.dn = await issueCertificate({ subject: 'CN=ledger,OU=payments,O=Example Bank', issuer: root, days: 5 });
    certs.dns = await issueCertificate({ subject: 'CN=dns-client', issuer: root, sanDns: ['Ledger.Payments.Example.com'], days: 5 });
    certs.uri = await issueCertificate({ subject: 'CN=uri-client', issuer: root, sanUri: ['spiffe://example.org/ns/payments/sa/ledger'], days: 5 });
    certs.ip = await issueCertificate({ subject: 'CN=ip-client', issuer: root, sanIp: ['::1'], days: 5 });
    certs.email = await issueCertificate({ subject: 'CN=email-client', issuer: root, sanEmail: ['ops@Payments.Example.com'], days: 5 });
    certs.other = await issueCertificate({ subject: 'CN=ledger,OU=payments,O=Other Bank', issuer: root, days: 5 });
    certs.selfSigned = await issueCertificate({ subject: 'CN=self-signed-client', days: 5 });
    certs.selfSignedOther = await issueCertificate({ subject: 'CN=self-signed-client', days: 5 });
    const foreignRoot = await issueCertificate({ subject: 'CN=Unknown CA', ca: true, days: 5 });
    certs.foreign = await issueCertificate({ subject: 'CN=ledger,OU=payments,O=Example Bank', issuer: foreignRoot, days: 5 });
    certs.expired = await issueCertificate({ subject: 'CN=expired-client', issuer: root, notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
    certs.future = await issueCertificate({ subject: 'CN=future-client', issuer: root, notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 10 * DAY) });
    certs.viaStored = await issueCertificate({ subject: 'CN=via-stored', issuer: intermediateInStore, days: 5 });
    certs.viaPartner = await issueCertificate({ subject: 'CN=via-partner', issuer: intermediateNotInStore, days: 5 });
    certs.serverOnly = await issueCertificate({ subject: 'CN=server-eku', issuer: root, extKeyUsage: ['serverAuth'], days: 5 });

    as = await startTestAuthz({ pki, clientCaPem: [pki.clientRoot.certPem, intermediateInStore.certPem].join('\n') });
    await as.registerResource({ identifier: RESOURCE, scopes: ['settlements:read', 'settlements:write'] });
    const base = { grant_types: ['client_credentials'], response_types: [], default_resource: RESOURCE, scope: 'settlements:read settlements:write' };
    await as.register({ ...base, client_id: 'dn', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=ledger,OU=payments,O=Example Bank' });
    await as.register({ ...base, client_id: 'dn-spelled', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'cn = Ledger ,  ou=PAYMENTS, 2.5.4.10=example  bank' });
    await as.register({ ...base, client_id: 'dn-extra-rdn', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=ledger,OU=payments,O=Example Bank,C=GB' });
    await as.register({ ...base, client_id: 'dn-order', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'O=Example Bank,OU=payments,CN=ledger' });
    await as.register({ ...base, client_id: 'dns', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'ledger.payments.example.com' });
    await as.register({ ...base, client_id: 'uri', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_uri: 'spiffe://example.org/ns/payments/sa/ledger' });
    await as.register({ ...base, client_id: 'ip', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_ip: '0:0:0:0:0:0:0:1' });
    await as.register({ ...base, client_id: 'email', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_email: 'ops@payments.example.com' });
    for (const [id, subject] of [['expired', 'CN=expired-client'], ['future', 'CN=future-client'], ['via-stored', 'CN=via-stored'], ['via-partner', 'CN=via-partner'], ['server-eku', 'CN=server-eku']]) {
      await as.register({ ...base, client_id: id, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: subject });
    }
    await as.register({
      ...base,
      client_id: 'self-signed',
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: { keys: [{ ...(certs.selfSigned.cert.publicKey.export({ format: 'jwk' })), x5c: [certs.selfSigned.cert.raw.toString('base64')] }] },
    });
  });

  after(async () => { await as?.close(); });

  describe('RFC 8705 §2.1.2 subject matchers', () => {
    it('accepts tls_client_auth_subject_dn and binds the token to the certificate (cnf.x5t#S256)', async () => {
      const res = await token('dn', identity(certs.dn));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.token_type, 'Bearer');
      const { header, payload } = decodeJwt(res.json.access_token);
      assert.equal(header.typ, 'at+jwt');
      assert.equal(header.alg, 'ES256');
      assert.equal(payload.cnf['x5t#S256'], thumbprint(certs.dn));
      assert.equal(payload.client_id, 'dn');
      assert.equal(payload.aud, RESOURCE);
      assert.equal(payload.iss, as.issuer);
      assert.equal(res.json.scope, 'settlements:read settlements:write');
    });

    for (const [client, cert] of [['dns', 'dns'], ['uri', 'uri'], ['ip', 'ip'], ['email', 'email']] as const) {
      it(`accepts tls_client_auth_san_${client}`, async () => {
        const res = await token(client, identity(certs[cert]));
        assert.equal(res.status, 200, res.text);
        assert.equal(decodeJwt(res.json.access_token).payload.cnf['x5t#S256'], thumbprint(certs[cert]));
      });
    }

    it('accepts a DN spelled differently but equal per RFC 4517 distinguishedNameMatch', async () => {
      const res = await token('dn-spelled', identity(certs.dn));
      assert.equal(res.status, 200, res.text);
    });

    it('refuses a DN that differs by one RDN', async () => {
      expectOAuthError(await token('dn-extra-rdn', identity(certs.dn)), 401, 'invalid_client',
        'certificate subject "CN=ledger,OU=payments,O=Example Bank" does not match the registered tls_client_auth_subject_dn');
    });

    it('refuses a DN whose RDNs are in another order', async () => {
      expectOAuthError(await token('dn-order', identity(certs.dn)), 401, 'invalid_client', /does not match the registered tls_client_auth_subject_dn/);
    });

    it('refuses a certificate from the trusted CA with another subject', async () => {
      expectOAuthError(await token('dn', identity(certs.other)), 401, 'invalid_client', /certificate subject "CN=ledger,OU=payments,O=Other Bank" does not match/);
    });

    it('refuses a SAN that does not match', async () => {
      expectOAuthError(await token('uri', identity(certs.dns)), 401, 'invalid_client', /SAN URI none does not match the registered tls_client_auth_san_uri/);
    });
  });

  describe('RFC 8705 §2.1 certificate path validation', () => {
    it('refuses a request with no certificate', async () => {
      expectOAuthError(await token('dn', undefined), 401, 'invalid_client', 'no client certificate presented');
    });

    it('tells a client on the public listener to use the mutual-TLS endpoint', async () => {
      const res = await token('dn', identity(certs.dn), {}, `${as.publicUrl}/token`);
      expectOAuthError(res, 401, 'invalid_client', new RegExp(`use the mutual-TLS endpoint ${as.mtlsUrl}/token`));
    });

    it('refuses a certificate whose CA is not in the trust store', async () => {
      expectOAuthError(await token('dn', identity(certs.foreign)), 401, 'invalid_client', /does not lead to a trusted client CA/);
    });

    it('refuses an expired certificate, naming when it expired', async () => {
      expectOAuthError(await token('expired', identity(certs.expired)), 401, 'invalid_client',
        `certificate expired at ${certs.expired.cert.validToDate.toISOString()}`);
    });

    it('refuses a certificate that is not yet valid', async () => {
      expectOAuthError(await token('future', identity(certs.future)), 401, 'invalid_client',
        `certificate not valid before ${certs.future.cert.validFromDate.toISOString()}`);
    });

    it('accepts a leaf whose intermediate is held in the trust store', async () => {
      assert.equal((await token('via-stored', identity(certs.viaStored))).status, 200);
    });

    it('accepts a leaf whose client presents the intermediate', async () => {
      const res = await token('via-partner', identity(certs.viaPartner, [intermediateNotInStore]));
      assert.equal(res.status, 200, res.text);
    });

    it('refuses a leaf whose intermediate is neither presented nor stored', async () => {
      expectOAuthError(await token('via-partner', identity(certs.viaPartner)), 401, 'invalid_client', /does not lead to a trusted client CA/);
    });

    it('refuses a leaf whose extendedKeyUsage lacks clientAuth', async () => {
      expectOAuthError(await token('server-eku', identity(certs.serverOnly)), 401, 'invalid_client', /clientAuth/);
    });

    it('writes one structured log line naming the reason and the certificate', async () => {
      const before = as.logs.length;
      await token('expired', identity(certs.expired));
      const lines = as.logs.slice(before).filter((l) => l.event === 'oauth_refusal');
      assert.equal(lines.length, 1);
      assert.equal(lines[0].client_id, 'expired');
      assert.equal(lines[0].error, 'invalid_client');
      assert.match(lines[0].reason, /certificate expired at/);
      assert.equal(lines[0].certificate.subject, 'CN=expired-client');
      assert.equal(lines[0].certificate.serial, certs.expired.cert.serialNumber);
      assert.match(lines[0].certificate.issuer, /certbound test client root/);
      assert.equal(lines[0].certificate.not_after, certs.expired.cert.validToDate.toISOString());
    });
  });

  describe('RFC 8705 §2.2 self-signed certificate client authentication', () => {
    it('accepts the registered self-signed certificate', async () => {
      const res = await token('self-signed', identity(certs.selfSigned));
      assert.equal(res.status, 200, res.text);
      assert.equal(decodeJwt(res.json.access_token).payload.cnf['x5t#S256'], thumbprint(certs.selfSigned));
    });

    it('refuses an unregistered self-signed certificate with the same subject', async () => {
      expectOAuthError(await token('self-signed', identity(certs.selfSignedOther)), 401, 'invalid_client',
        `certificate not registered for this self-signed client (x5t#S256 ${thumbprint(certs.selfSignedOther)})`);
    });
  });

  describe('RFC 7662 introspection and RFC 7009 revocation of JWT access tokens', () => {
    it('introspection reports active, cnf, client_id, scope and exp', async () => {
      const issued = await token('dn', identity(certs.dn), { scope: 'settlements:read' });
      const res = await https(`${as.mtlsUrl}/token/introspection`, { ca: as.ca, identity: identity(certs.dn), form: { client_id: 'dn', token: issued.json.access_token } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.active, true);
      assert.deepEqual(res.json.cnf, { 'x5t#S256': thumbprint(certs.dn) });
      assert.equal(res.json.client_id, 'dn');
      assert.equal(res.json.scope, 'settlements:read');
      assert.equal(res.json.exp, decodeJwt(issued.json.access_token).payload.exp);
    });

    it('after revocation, introspection says active: false', async () => {
      const issued = await token('dn', identity(certs.dn));
      const revoked = await https(`${as.mtlsUrl}/token/revocation`, { ca: as.ca, identity: identity(certs.dn), form: { client_id: 'dn', token: issued.json.access_token } });
      assert.equal(revoked.status, 200, revoked.text);
      const res = await https(`${as.mtlsUrl}/token/introspection`, { ca: as.ca, identity: identity(certs.dn), form: { client_id: 'dn', token: issued.json.access_token } });
      assert.deepEqual(res.json, { active: false });
    });

    it('another client may not introspect or revoke the token', async () => {
      const issued = await token('dn', identity(certs.dn));
      const peek = await https(`${as.mtlsUrl}/token/introspection`, { ca: as.ca, identity: identity(certs.uri), form: { client_id: 'uri', token: issued.json.access_token } });
      assert.deepEqual(peek.json, { active: false });
      const revoke = await https(`${as.mtlsUrl}/token/revocation`, { ca: as.ca, identity: identity(certs.uri), form: { client_id: 'uri', token: issued.json.access_token } });
      expectOAuthError(revoke, 400, 'invalid_request', 'the token was not issued to this client');
    });

    it('a forged token is inactive', async () => {
      const issued = await token('dn', identity(certs.dn));
      const [h, p] = issued.json.access_token.split('.');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      payload.scope = 'settlements:admin';
      const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${issued.json.access_token.split('.')[2]}`;
      const res = await https(`${as.mtlsUrl}/token/introspection`, { ca: as.ca, identity: identity(certs.dn), form: { client_id: 'dn', token: forged } });
      assert.deepEqual(res.json, { active: false });
    });
  });

  describe('discovery and malformed input', () => {
    it('advertises mtls_endpoint_aliases (RFC 8705 §5) on the public listener', async () => {
      const res = await https(`${as.publicUrl}/.well-known/openid-configuration`, { ca: as.ca });
      assert.equal(res.status, 200);
      assert.equal(res.json.mtls_endpoint_aliases.token_endpoint, `${as.mtlsUrl}/token`);
      assert.equal(res.json.mtls_endpoint_aliases.introspection_endpoint, `${as.mtlsUrl}/token/introspection`);
      assert.equal(res.json.tls_client_certificate_bound_access_tokens, true);
      // `none`: public clients, which must be sender-constrained (RFC 8705 §4, RFC 9449 §5).
      assert.deepEqual(res.json.token_endpoint_auth_methods_supported, ['tls_client_auth', 'self_signed_tls_client_auth', 'private_key_jwt', 'none']);
    });

    it('answers a body that is not form encoding with 400, not 500', async () => {
      const res = await https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: identity(certs.dn), body: '%%%&&&==%zz', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('answers an oversized body with a 4xx, not 500', async () => {
      const res = await https(`${as.mtlsUrl}/token`, { ca: as.ca, identity: identity(certs.dn), body: `grant_type=client_credentials&client_id=dn&pad=${'a'.repeat(2_000_000)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.ok(res.status >= 400 && res.status < 500, `got ${res.status}`);
    });

    it('never issues an unbound token to a certificate-bound client', async () => {
      const res = await token('dn', undefined);
      expectOAuthError(res, 401, 'invalid_client');
      assert.equal(res.json.access_token, undefined);
    });
  });
});
