// Enrollment (EST, RFC 7030; issue 13) against a real server over real TLS: cacerts, csrattrs,
// simpleenroll with a one-time code, simplereenroll with the enrolled certificate, the CRL, the
// admin routes (codes, revoke), each refusal, and the issued certificate's content checked with
// openssl. With TEST_DATABASE_URL and TEST_REDIS_URL, a revocation reaches a second instance.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, X509Certificate, type webcrypto } from 'node:crypto';
import { x509 } from '../../apps/authz-server/src/mtls/x509.ts';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { x5tS256 } from '../../apps/authz-server/src/mtls/thumbprint.ts';
import { makeTestPki, realStores, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { https, type HttpsAnswer } from '../support/https.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';

const API = 'https://ledger-api.test';
const SUBJECT = 'CN=settlement,O=Example Bank';

interface Enrolled { x: X509Certificate; cert: string; key: string }

async function newCsr(opts: { subject?: string; alg?: 'EC' | 'RSA1024' } = {}): Promise<{ csrB64: string; keyPem: string }> {
  let keys: webcrypto.CryptoKeyPair;
  let sign: webcrypto.EcdsaParams | webcrypto.Algorithm;
  if (opts.alg === 'RSA1024') {
    const pair = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const params = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    keys = {
      privateKey: await crypto.subtle.importKey('pkcs8', pair.privateKey.export({ type: 'pkcs8', format: 'der' }), params, true, ['sign']),
      publicKey: await crypto.subtle.importKey('spki', pair.publicKey.export({ type: 'spki', format: 'der' }), params, true, ['verify']),
    };
    sign = params;
  } else {
    keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']));
    sign = { name: 'ECDSA', hash: 'SHA-256' };
  }
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: opts.subject ?? 'CN=someone else entirely', keys, signingAlgorithm: sign });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
  return { csrB64: Buffer.from(csr.rawData).toString('base64'), keyPem };
}

/** The certificates of a base64 certs-only PKCS#7 answer. */
function certsOf(res: HttpsAnswer): X509Certificate[] {
  const der = Buffer.from(res.text.replace(/\s+/g, ''), 'base64');
  return [...new x509.X509Certificates(der)].map((c) => new X509Certificate(Buffer.from(c.rawData)));
}

describe('enrollment (EST, RFC 7030)', () => {
  let pki: TestPki;
  let issuing: IssuedCertificate;
  let as: TestAuthz;
  let dir: string;
  let code: string;
  let first: Enrolled;
  let second: Enrolled;

  const est = (op: string, options: { body?: string; identity?: { cert: string; key: string }; basic?: [string, string]; type?: string; base?: string } = {}) =>
    https(`${options.base ?? as.mtlsUrl}/.well-known/est/${op}`, {
      method: options.body === undefined ? 'GET' : 'POST',
      ca: as.ca,
      ...(options.identity ? { identity: options.identity } : {}),
      ...(options.body === undefined ? {} : { body: options.body }),
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': options.type ?? 'application/pkcs10' }),
        ...(options.basic ? { authorization: `Basic ${Buffer.from(options.basic.join(':')).toString('base64')}` } : {}),
      },
    });
  const newCode = async (clientId = 'settlement', json?: unknown) => {
    const res = await as.admin.request('POST', `/clients/${clientId}/enrollment-codes`, json === undefined ? {} : { json });
    assert.equal(res.status, 201, res.text);
    return res.json.code;
  };
  const token = (identity: { cert: string; key: string }, clientId = 'settlement') =>
    https(`${as.mtlsUrl}/token`, { ca: as.ca, identity, form: { grant_type: 'client_credentials', client_id: clientId } });
  const enrolledFrom = (res: HttpsAnswer, keyPem: string): Enrolled => {
    assert.equal(res.status, 200, res.text);
    const [cert] = certsOf(res);
    return { x: cert, cert: cert.toString(), key: keyPem };
  };

  before(async () => {
    pki = await makeTestPki();
    issuing = await issueCertificate({ subject: 'CN=certbound test issuing CA,O=certbound tests', issuer: pki.clientRoot, ca: true, pathLength: 0, days: 20 });
    dir = await mkdtemp(join(tmpdir(), 'certbound-est-'));
    await writeFile(join(dir, 'issuing.pem'), issuing.certPem);
    await writeFile(join(dir, 'issuing-key.pem'), issuing.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'root.pem'), pki.clientRoot.certPem);
    as = await startTestAuthz({ pki, env: { ISSUING_CA_CERT_FILE: join(dir, 'issuing.pem'), ISSUING_CA_KEY_FILE: join(dir, 'issuing-key.pem'), ISSUED_CERT_TTL: '3600' } });
    await as.registerResource({ identifier: API, scopes: ['ledger:read'], sender_constraint_required: true });
    for (const body of [
      { client_id: 'settlement', tls_client_auth_subject_dn: SUBJECT, default_resource: API, scope: 'ledger:read', certificate_pinning: true },
      { client_id: 'spiffe', tls_client_auth_san_uri: 'spiffe://bank/payments', default_resource: API, scope: 'ledger:read' },
      { client_id: 'signer', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })] }, default_resource: API, scope: 'ledger:read' },
    ]) {
      const res = await as.admin.request('POST', '/clients', { json: body });
      assert.equal(res.status, 201, res.text);
    }
  });

  after(async () => {
    await as?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('logs once at start that enrollment is on', () => {
    assert.equal(as.logs.filter((l) => l.event === 'enrollment_on').length, 1);
  });

  it('cacerts: base64 certs-only PKCS#7 with the issuing CA and nothing secret', async () => {
    const res = await est('cacerts');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['content-type'], 'application/pkcs7-mime; smime-type=certs-only');
    assert.equal(res.headers['content-transfer-encoding'], 'base64');
    assert.deepEqual(certsOf(res).map((c) => c.fingerprint256), [issuing.cert.fingerprint256]);
  });

  it('csrattrs: base64 DER naming id-ecPublicKey with P-256/P-384, rsaEncryption and Ed25519', async () => {
    const res = await est('csrattrs');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/csrattrs');
    const hex = Buffer.from(res.text.trim(), 'base64').toString('hex');
    for (const oid of ['2a8648ce3d0201', '2a8648ce3d030107', '2b81040022', '2a864886f70d010101', '2b6570']) assert.ok(hex.includes(oid), oid);
  });

  it('the EST endpoints other than crl are not on the public listener; crl is', async () => {
    expectOAuthError(await est('cacerts', { base: as.publicUrl }), 404, 'not_found', '/.well-known/est/cacerts is served on the mutual-TLS listener only');
    const crl = await est('crl', { base: as.publicUrl });
    assert.equal(crl.status, 200);
    assert.equal(crl.headers['content-type'], 'application/pkix-crl');
  });

  it('enrollment codes: 201 {code, expires_at}, listed without the code, audited without it', async () => {
    const res = await as.admin.request('POST', '/clients/settlement/enrollment-codes', { json: { expires_in: 600 } });
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.code, /^[A-Za-z0-9_-]{43}$/);
    const expires = Date.parse(res.json.expires_at) - Date.now();
    assert.ok(expires > 590_000 && expires <= 600_000, String(expires));
    code = res.json.code;
    const list = await as.admin.request('GET', '/clients/settlement/enrollment-codes');
    assert.equal(list.status, 200);
    assert.equal(list.json.items[0].state, 'active');
    assert.ok(!list.text.includes(code));
    const { rows } = await as.server.stores.sql.query<{ t: string }>(`select coalesce(after::text, '') as t from audit_log where action = 'client.enrollment_code.create'`);
    assert.equal(rows.length, 1);
    assert.ok(!rows[0].t.includes(code));
    const stored = await as.server.stores.sql.query<{ code_hash: string }>('select code_hash from enrollment_codes');
    assert.ok(stored.rows.every((r) => r.code_hash !== code));
  });

  it('refuses bad enrollment code requests: expires_in past 30 days, unknown client, a client that cannot enroll', async () => {
    expectOAuthError(await as.admin.request('POST', '/clients/settlement/enrollment-codes', { json: { expires_in: 31 * 86_400 } }), 400, 'invalid_request', /^expires_in: /);
    expectOAuthError(await as.admin.request('POST', '/clients/nobody/enrollment-codes', { json: {} }), 404, 'not_found');
    expectOAuthError(await as.admin.request('POST', '/clients/signer/enrollment-codes'), 409, 'conflict', /has no tls_client_auth_subject_dn or tls_client_auth_san_\* .*cannot enroll/);
  });

  it('simpleenroll: the certificate carries the registered subject, not the CSR\'s, and the profile', async () => {
    const { csrB64, keyPem } = await newCsr({ subject: 'CN=admin,O=certbound tests' });
    first = enrolledFrom(await est('simpleenroll', { body: csrB64, basic: ['settlement', code] }), keyPem);
    const cert = new x509.X509Certificate(first.x.raw);
    assert.equal(first.x.subject.split('\n').reverse().join(','), SUBJECT);
    assert.equal(first.x.issuer, issuing.cert.subject);
    assert.equal(first.x.ca, false);
    assert.ok(first.x.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(keyPem))));
    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    assert.equal(ku.critical, true);
    assert.equal(ku.usages, x509.KeyUsageFlags.digitalSignature);
    assert.deepEqual([...cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages], [x509.ExtendedKeyUsage.clientAuth]);
    assert.equal(cert.getExtension(x509.BasicConstraintsExtension)!.ca, false);
    assert.ok(cert.getExtension(x509.SubjectKeyIdentifierExtension));
    assert.ok(cert.getExtension(x509.AuthorityKeyIdentifierExtension));
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: first.cert }).toString();
    assert.match(text, new RegExp(`URI:${as.issuer.replace(/[.]/g, '\\.')}/\\.well-known/est/crl`));
    assert.match(text, /CA Issuers - URI:https:\/\/localhost:\d+\/\.well-known\/est\/cacerts/);
    assert.equal((first.x.validToDate.getTime() - Date.now()) / 1000 <= 3600, true);
    assert.ok((first.x.validToDate.getTime() - Date.now()) / 1000 > 3500);
    assert.equal(Buffer.from(first.x.serialNumber, 'hex').length, 16);
    execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'issuing.pem')], { input: first.cert });
    const { rows } = await as.server.stores.sql.query<{ issued_by: string; client_id: string }>('select issued_by, client_id from issued_certificates where x5t_s256 = $1', [x5tS256(first.x)]);
    assert.deepEqual(rows, [{ issued_by: 'enroll', client_id: 'settlement' }]);
    assert.equal(as.logs.filter((l) => l.event === 'certificate_enrolled').length, 1);
  });

  it('a pinned client gets a token with the enrolled certificate at once, bound to it', async () => {
    const res = await token(first);
    assert.equal(res.status, 200, res.text);
    assert.equal(decodeJwt(res.json.access_token).payload.cnf['x5t#S256'], x5tS256(first.x));
  });

  it('a SAN-matched client gets the SAN and a minimal subject', async () => {
    const { csrB64, keyPem } = await newCsr();
    const enrolled = enrolledFrom(await est('simpleenroll', { body: csrB64, basic: ['spiffe', await newCode('spiffe')] }), keyPem);
    assert.equal(enrolled.x.subjectAltName, 'URI:spiffe://bank/payments');
    assert.equal(enrolled.x.subject, 'CN=spiffe');
    assert.equal((await token(enrolled, 'spiffe')).status, 200);
  });

  it('refuses a used, wrong or missing code: 401 with WWW-Authenticate Basic', async () => {
    const { csrB64 } = await newCsr();
    for (const basic of [['settlement', code], ['settlement', 'wrong'], ['nobody', 'x']] as Array<[string, string]>) {
      const res = await est('simpleenroll', { body: csrB64, basic });
      expectOAuthError(res, 401, 'invalid_client');
      assert.equal(res.headers['www-authenticate'], 'Basic realm="certbound EST"');
    }
    const none = await est('simpleenroll', { body: csrB64 });
    expectOAuthError(none, 401, 'invalid_client', /HTTP Basic credentials/);
  });

  it('refuses an expired code', async () => {
    const expired = await newCode('settlement', { expires_in: 60 });
    await as.server.stores.sql.query(`update enrollment_codes set expires_at = now() - interval '1 second' where client_id = 'settlement' and used_at is null`);
    const { csrB64 } = await newCsr();
    expectOAuthError(await est('simpleenroll', { body: csrB64, basic: ['settlement', expired] }), 401, 'invalid_client');
  });

  it('five wrong codes invalidate the client\'s live codes', async () => {
    const good = await newCode('spiffe');
    const { csrB64 } = await newCsr();
    for (let i = 0; i < 5; i++) assert.equal((await est('simpleenroll', { body: csrB64, basic: ['spiffe', `wrong-${i}`] })).status, 401);
    expectOAuthError(await est('simpleenroll', { body: csrB64, basic: ['spiffe', good] }), 401, 'invalid_client');
    assert.ok(as.logs.some((l) => l.event === 'enrollment_codes_invalidated' && l.client_id === 'spiffe'));
  });

  it('refuses bad bodies with 400/413/415 and keeps the code unspent', async () => {
    const fresh = await newCode();
    const bad = async (body: string, description: RegExp, status = 400, type?: string) =>
      expectOAuthError(await est('simpleenroll', { body, basic: ['settlement', fresh], ...(type ? { type } : {}) }), status, status === 413 ? 'invalid_request' : 'invalid_request', description);
    await bad('***not base64***', /not base64/);
    await bad(Buffer.from('hello').toString('base64'), /not a DER PKCS#10/);
    const weak = await newCsr({ alg: 'RSA1024' });
    await bad(weak.csrB64, /RSA key of 1024 bits is too weak/);
    const good = await newCsr();
    const der = Buffer.from(good.csrB64, 'base64');
    der[der.length - 5] ^= 0x01; // inside the signature
    await bad(der.toString('base64'), /signature does not verify|not a DER PKCS#10/);
    await bad('A'.repeat(20_000), /larger than 16384 bytes/, 413);
    await bad(good.csrB64, /Content-Type must be application\/pkcs10/, 415, 'text/plain');
    assert.equal((await est('simpleenroll', { body: good.csrB64, basic: ['settlement', fresh] })).status, 200);
  });

  it('simplereenroll: the enrolled certificate renews itself; both certificates get tokens', async () => {
    const { csrB64, keyPem } = await newCsr({ subject: 'CN=evil' });
    second = enrolledFrom(await est('simplereenroll', { body: csrB64, identity: first }), keyPem);
    assert.equal(second.x.subject.split('\n').reverse().join(','), SUBJECT);
    const { rows } = await as.server.stores.sql.query<{ issued_by: string; previous_x5t_s256: string }>('select issued_by, previous_x5t_s256 from issued_certificates where x5t_s256 = $1', [x5tS256(second.x)]);
    assert.deepEqual(rows, [{ issued_by: 'reenroll', previous_x5t_s256: x5tS256(first.x) }]);
    assert.equal((await token(first)).status, 200);
    assert.equal((await token(second)).status, 200);
  });

  it('simplereenroll refuses a certificate certbound did not issue (403) and no certificate (401)', async () => {
    const { csrB64 } = await newCsr();
    const other = await issueCertificate({ subject: SUBJECT, issuer: pki.clientRoot, days: 2 });
    expectOAuthError(await est('simplereenroll', { body: csrB64, identity: { cert: other.certPem, key: other.keyPem } }), 403, 'forbidden', /not issued by certbound's issuing CA/);
    expectOAuthError(await est('simplereenroll', { body: csrB64 }), 401, 'invalid_client', /none was presented/);
  });

  it('revoke: 200 with the record; refused at the token endpoint at once; the sibling still works; the CRL lists it and verifies', async () => {
    const x5t = x5tS256(first.x);
    const issued = (await token(first)).json.access_token;
    const introspect = async () => (await https(`${as.mtlsUrl}/token/introspection`, { ca: as.ca, identity: second, form: { client_id: 'settlement', token: issued } })).json;
    assert.equal((await introspect()).active, true);
    const res = await as.admin.request('POST', `/clients/settlement/certificates/${x5t}/revoke`, { json: { reason: 'keyCompromise' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.revocation_reason, 'keyCompromise');
    assert.ok(res.json.revoked_at);
    expectOAuthError(await token(first), 401, 'invalid_client', /is revoked/);
    assert.equal((await token(second)).status, 200);
    assert.deepEqual(await introspect(), { active: false }, 'a token bound to the revoked certificate is inactive at introspection');
    const { csrB64 } = await newCsr();
    expectOAuthError(await est('simplereenroll', { body: csrB64, identity: first }), 403, 'forbidden', /revoked/);
    const crl = await est('crl');
    assert.equal(crl.status, 200);
    const crlFile = join(dir, 'crl.der');
    const crlRes = await fetchCrlDer(as);
    await writeFile(crlFile, crlRes);
    const out = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', join(dir, 'issuing.pem'), '-verify', '-noout', '-text'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    assert.match(out, new RegExp(`Serial Number: ${first.x.serialNumber}`, 'i'));
    assert.match(out, /Key Compromise/);
  });

  it('revoke refuses a certificate certbound did not issue (409) and an unknown one (404)', async () => {
    const other = await issueCertificate({ subject: SUBJECT, issuer: pki.clientRoot, days: 2 });
    assert.equal((await as.admin.request('POST', '/clients/settlement/certificates', { json: { pem: other.certPem } })).status, 201);
    expectOAuthError(await as.admin.request('POST', `/clients/settlement/certificates/${x5tS256(other.cert)}/revoke`), 409, 'conflict', /only certificates certbound issued are revoked here/);
    expectOAuthError(await as.admin.request('POST', '/clients/settlement/certificates/nope/revoke'), 404, 'not_found');
    expectOAuthError(await as.admin.request('POST', `/clients/settlement/certificates/${x5tS256(second.x)}/revoke`, { json: { reason: 'bogus' } }), 400, 'invalid_request', /^reason: /);
  });

  it('per client: issued_cert_ttl sets the lifetime; revoke_previous_on_renewal revokes the renewed certificate (superseded)', async () => {
    expectOAuthError(await as.admin.request('POST', '/clients', { json: { client_id: 'bad-ttl', tls_client_auth_subject_dn: 'CN=x', issued_cert_ttl: 10 } }), 400, 'invalid_client_metadata', /^issued_cert_ttl: /);
    const created = await as.admin.request('POST', '/clients', {
      json: { client_id: 'rotating', tls_client_auth_subject_dn: 'CN=rotating,O=Example Bank', default_resource: API, scope: 'ledger:read', issued_cert_ttl: 600, revoke_previous_on_renewal: true },
    });
    assert.equal(created.status, 201, created.text);
    const a = await newCsr();
    const old = enrolledFrom(await est('simpleenroll', { body: a.csrB64, basic: ['rotating', await newCode('rotating')] }), a.keyPem);
    const lifetime = (old.x.validToDate.getTime() - old.x.validFromDate.getTime()) / 1000;
    assert.ok(lifetime <= 660 && lifetime >= 600, String(lifetime));
    const b = await newCsr();
    const renewed = enrolledFrom(await est('simplereenroll', { body: b.csrB64, identity: old }), b.keyPem);
    expectOAuthError(await token(old, 'rotating'), 401, 'invalid_client', /is revoked/);
    assert.equal((await token(renewed, 'rotating')).status, 200);
    const { rows } = await as.server.stores.sql.query<{ revocation_reason: string }>('select revocation_reason from issued_certificates where x5t_s256 = $1', [x5tS256(old.x)]);
    assert.deepEqual(rows, [{ revocation_reason: 'superseded' }]);
  });

  it('a second instance sharing PostgreSQL and Redis refuses a certificate revoked on the first', { skip: !(realStores.database && realStores.redis) && 'set TEST_DATABASE_URL and TEST_REDIS_URL' }, async () => {
    const sibling = await startTestAuthz({ pki, shareStoresWith: as, env: { ISSUING_CA_CERT_FILE: join(dir, 'issuing.pem'), ISSUING_CA_KEY_FILE: join(dir, 'issuing-key.pem') } });
    try {
      const { csrB64, keyPem } = await newCsr();
      const third = enrolledFrom(await est('simplereenroll', { body: csrB64, identity: second }), keyPem);
      const at = (identity: Enrolled) => https(`${sibling.mtlsUrl}/token`, { ca: sibling.ca, identity, form: { grant_type: 'client_credentials', client_id: 'settlement' } });
      assert.equal((await at(second)).status, 200);
      assert.equal((await at(third)).status, 200);
      assert.equal((await as.admin.request('POST', `/clients/settlement/certificates/${x5tS256(second.x)}/revoke`)).status, 200);
      expectOAuthError(await at(second), 401, 'invalid_client', /is revoked/);
      assert.equal((await at(third)).status, 200);
    } finally {
      await sibling.close();
    }
  });
});

/** The CRL as bytes (the test https helper decodes bodies as UTF-8). */
async function fetchCrlDer(as: TestAuthz): Promise<Buffer> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    request(`${as.publicUrl}/.well-known/est/crl`, { ca: as.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject).end();
  });
}

describe('enrollment off (no issuing CA)', () => {
  it('answers 404 on every EST endpoint and the admin routes, and says so once in the start log', async () => {
    const as = await startTestAuthz({ pki: await makeTestPki() });
    try {
      assert.equal(as.logs.filter((l) => l.event === 'enrollment_off').length, 1);
      for (const op of ['cacerts', 'csrattrs', 'crl']) {
        expectOAuthError(await https(`${as.mtlsUrl}/.well-known/est/${op}`, { ca: as.ca }), 404, 'not_found', /^enrollment is off: no issuing CA is configured/);
      }
      const enroll = await https(`${as.mtlsUrl}/.well-known/est/simpleenroll`, { ca: as.ca, body: 'AAAA', headers: { 'content-type': 'application/pkcs10' } });
      expectOAuthError(enroll, 404, 'not_found');
      await as.register({ client_id: 'c', tls_client_auth_subject_dn: 'CN=c' });
      expectOAuthError(await as.admin.request('POST', '/clients/c/enrollment-codes'), 404, 'not_found', /^enrollment is off/);
    } finally {
      await as.close();
    }
  });
});
