// Bad input to /admin/v1 gets a 4xx naming the problem, never a 500, a crash or a partial
// write; a private key sent by mistake is neither stored, nor logged, nor echoed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { issueCertificate, type IssuedCertificate } from '../../apps/authz-server/src/pki/issue.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../support/authz.ts';
import { expectOAuthError } from '../support/oauth.ts';
import type { JsonAnswer } from '../support/json-answer.ts';

describe('/admin/v1 bad input', () => {
  let pki: TestPki;
  let as: TestAuthz;
  let cert: IssuedCertificate;
  let token: string;

  const post = (path: string, body: string | Buffer, contentType: string | undefined) =>
    as.admin.request('POST', path, { body, headers: contentType === undefined ? {} : { 'content-type': contentType } });

  before(async () => {
    pki = await makeTestPki();
    cert = await issueCertificate({ subject: 'CN=robot', days: 5 });
    as = await startTestAuthz({ pki });
    token = await as.admin.token();
    assert.equal((await as.admin.request('POST', '/clients', { json: { client_id: 'robot', token_endpoint_auth_method: 'self_signed_tls_client_auth' } })).status, 201);
  });

  after(async () => {
    // Nothing here may have been a server error.
    assert.deepEqual(as.logs.filter((l) => l.event === 'admin_refusal' && l.status >= 500), []);
    assert.deepEqual(as.logs.filter((l) => l.event === 'admin_undeclared_status'), []);
    await as?.close();
  });

  describe('bodies', () => {
    it('refuses a body over 64 KiB: 413', async () => {
      const res = await post('/clients', JSON.stringify({ client_name: 'x'.repeat(70_000) }), 'application/json');
      expectOAuthError(res, 413, 'payload_too_large', 'body: larger than 65536 bytes');
    });

    it('refuses an oversized chunked body (no Content-Length): 413', async () => {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${as.mtlsUrl}/admin/v1/clients`, {
          method: 'POST', ca: as.ca, cert: as.admin.identity.cert, key: as.admin.identity.key, agent: false,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'transfer-encoding': 'chunked' },
        }, (r) => {
          let body = '';
          r.on('data', (c: Buffer) => { body += c.toString(); });
          r.on('end', () => resolve({ status: r.statusCode!, body }));
        });
        req.on('error', reject);
        req.write('{"client_name":"');
        for (let i = 0; i < 10; i++) req.write('y'.repeat(10_000));
        req.end('"}');
      });
      assert.equal(res.status, 413);
      const body = JSON.parse(res.body) as JsonAnswer;
      assert.equal(body.error, 'payload_too_large');
      assert.match(body.error_description, /^body: larger than \d+ bytes$/);
    });

    it('refuses a wrong or missing content type: 415', async () => {
      expectOAuthError(await post('/clients', '{}', 'text/plain'), 415, 'unsupported_media_type', 'content-type: "text/plain" is not accepted here; send application/json');
      expectOAuthError(await post('/clients', '{}', undefined), 415, 'unsupported_media_type', 'content-type: missing; it is not accepted here; send application/json');
      expectOAuthError(await post('/clients', '{}', 'application/json; charset=latin1'), 415, 'unsupported_media_type', 'content-type: charset "latin1" is not accepted; send UTF-8');
      expectOAuthError(await post('/clients/robot/certificates', cert.certPem, 'text/plain'), 415, 'unsupported_media_type',
        'content-type: "text/plain" is not accepted here; send application/json or application/x-pem-file or application/pem-certificate-chain');
    });

    it('refuses malformed JSON without repeating it: 400', async () => {
      const res = await post('/clients', '{"client_name": "secret-value", }', 'application/json');
      expectOAuthError(res, 400, 'invalid_request', /^body: malformed JSON/);
      assert.ok(!res.text.includes('secret-value'));
    });

    it('refuses JSON that is not an object, and bytes that are not UTF-8: 400', async () => {
      expectOAuthError(await post('/clients', '[1,2]', 'application/json'), 400, 'invalid_request', 'body: must be a JSON object');
      expectOAuthError(await post('/clients', 'null', 'application/json'), 400, 'invalid_request', 'body: must be a JSON object');
      expectOAuthError(await post('/clients', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'application/json'), 400, 'invalid_request', 'body: is not valid UTF-8');
    });

    it('refuses NUL characters and lone surrogates, which PostgreSQL cannot store: 400', async () => {
      expectOAuthError(await post('/clients', '{"client_name":"a\\u0000b"}', 'application/json'), 400, 'invalid_request', 'client_name: must be well-formed Unicode without NUL characters');
      expectOAuthError(await post('/clients', '{"client_name":"\\ud800"}', 'application/json'), 400, 'invalid_request', 'client_name: must be well-formed Unicode without NUL characters');
      expectOAuthError(await as.admin.request('GET', '/audit?target=a%00b'), 400, 'invalid_request', 'target: must be well-formed Unicode without NUL characters');
      expectOAuthError(await as.admin.request('GET', '/clients/a%00b'), 404, 'not_found');
    });

    it('refuses unknown fields, naming them: 400', async () => {
      expectOAuthError(await as.admin.request('POST', '/clients', { json: { client_id: 'x', tls_client_auth_subject_dn: 'CN=x', is_admin: true } }), 400, 'invalid_client_metadata', 'is_admin: unknown field');
      expectOAuthError(await as.admin.request('POST', '/resource-servers', { json: { identifier: 'https://x.test', owner: 'me' } }), 400, 'invalid_request', 'owner: unknown field');
      expectOAuthError(await as.admin.request('POST', '/clients/robot/certificates', { json: { pem: cert.certPem, note: 'x' } }), 400, 'invalid_request', 'note: unknown field');
    });
  });

  describe('SQL metacharacters are data', () => {
    it('stores and returns them literally', async () => {
      const clientId = `o'brien";--`;
      const name = `Robert'); DROP TABLE clients;-- \\ $1 %_`;
      const created = await as.admin.request('POST', '/clients', { json: { client_id: clientId, client_name: name, tls_client_auth_subject_dn: `CN=o'brien` } });
      assert.equal(created.status, 201, created.text);
      const res = await as.admin.request('GET', `/clients/${encodeURIComponent(clientId)}`);
      assert.equal(res.status, 200);
      assert.equal(res.json.client_id, clientId);
      assert.equal(res.json.client_name, name);
      const { rows } = await as.server.stores.sql.query<{ n: number }>('select count(*)::int as n from clients');
      assert.ok(rows[0].n >= 3, 'the clients table is still there');
      const audit = await as.admin.request('GET', `/audit?target=${encodeURIComponent(`clients/${clientId}`)}`);
      assert.equal(audit.json.items.length, 1);
      assert.equal((await as.admin.request('GET', `/audit?target=${encodeURIComponent("clients/o'brien%")}`)).json.items.length, 0, 'no LIKE wildcards');
    });
  });

  describe('certificates that are not certificates', () => {
    const KEY_MARKER = /-----BEGIN [A-Z ]*PRIVATE KEY-----\n([A-Za-z0-9+/=]{40})/;

    function assertKeyNowhere(keyPem: string, answer: { text: string }): Promise<void> {
      const fragment = KEY_MARKER.exec(keyPem)![1];
      assert.ok(!answer.text.includes(fragment), 'not echoed');
      assert.ok(!JSON.stringify(as.logs).includes(fragment), 'not logged');
      return as.server.stores.sql.query<{ t: string }>(
        `select coalesce(string_agg(pem, ''), '') || (select coalesce(string_agg(row_to_json(a)::text, ''), '') from audit_log a) as t from client_certificates`,
      ).then(({ rows }) => assert.ok(!rows[0].t.includes(fragment), 'not stored'));
    }

    it('refuses a certificate followed by its private key, and the key goes nowhere', async () => {
      const res = await as.admin.request('POST', '/clients/robot/certificates', { json: { pem: cert.certPem + cert.keyPem } });
      expectOAuthError(res, 400, 'invalid_request', 'pem: contains a private key; send the certificate only (the key was discarded, not stored)');
      await assertKeyNowhere(cert.keyPem, res);
    });

    it('refuses a private key alone, sent as application/x-pem-file', async () => {
      const res = await post('/clients/robot/certificates', cert.keyPem, 'application/x-pem-file');
      expectOAuthError(res, 400, 'invalid_request', /^pem: contains a private key/);
      await assertKeyNowhere(cert.keyPem, res);
    });

    it('refuses a private key in an unknown field without repeating it', async () => {
      const res = await as.admin.request('POST', '/clients/robot/certificates', { json: { pem: cert.certPem, key: cert.keyPem } });
      expectOAuthError(res, 400, 'invalid_request', 'key: unknown field');
      await assertKeyNowhere(cert.keyPem, res);
    });

    const notCertificates: Array<[string, string, string]> = [
      ['text that is not PEM', 'hello', 'pem: no PEM certificate found (expected -----BEGIN CERTIFICATE-----)'],
      ['a public key', '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n', 'pem: PEM block 1 is a PUBLIC KEY, not a CERTIFICATE'],
      ['a CERTIFICATE block of garbage', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'pem: PEM block 1 is not a readable X.509 certificate'],
    ];
    for (const [what, pem, description] of notCertificates) {
      it(`refuses ${what}: 400`, async () => {
        expectOAuthError(await as.admin.request('POST', '/clients/robot/certificates', { json: { pem } }), 400, 'invalid_request', description);
      });
    }

    it('refuses a pem that is not a string', async () => {
      expectOAuthError(await as.admin.request('POST', '/clients/robot/certificates', { json: { pem: 42 } }), 400, 'invalid_request', 'pem: required: the certificate in PEM');
    });

    it('stored nothing for any of them', async () => {
      const { rows } = await as.server.stores.sql.query<{ n: number }>('select count(*)::int as n from client_certificates');
      assert.equal(rows[0].n, 0);
    });
  });

  describe('non-admin callers', () => {
    it('a certificate-bound token of another client gets 401, whatever the body', async () => {
      const other = await issueCertificate({ subject: 'CN=outsider', issuer: pki.clientRoot, days: 5 });
      const res = await as.admin.request('POST', '/clients', { identity: { cert: other.certPem, key: other.keyPem }, json: { client_id: 'evil', tls_client_auth_subject_dn: 'CN=outsider' } });
      expectOAuthError(res, 401, 'invalid_token', 'access token is bound to a different certificate');
      const { rows } = await as.server.stores.sql.query<{ n: number }>('select count(*)::int as n from clients where client_id = $1', ['evil']);
      assert.equal(rows[0].n, 0, 'the protected handler never ran');
    });
  });
});
