// What the admin CLI sends, seen from a scripted stand-in for the server: one token per run,
// the same client certificate on every request (the token is bound to it, RFC 8705 §3), If-Match
// from the GET, and a write that loses the race to another admin reported as exit 4.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main, type CliIo } from '../../src/cli/main.ts';
import { makeTestPki, type TestPki } from '../../../../test/support/authz.ts';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  ifMatch: string | undefined;
  body: string;
  /** fingerprint of the client certificate on the connection */
  certificate: string | undefined;
}

describe('one admin session per CLI run', () => {
  let pki: TestPki;
  let server: Server;
  let url: string;
  let work: string;
  let seen: Seen[] = [];
  /** what PUT /admin/v1/clients/ledger answers */
  let putStatus = 200;

  before(async () => {
    pki = await makeTestPki();
    work = await mkdtemp(join(tmpdir(), 'certbound-admin-session-'));
    await writeFile(join(work, 'admin.pem'), pki.admin.certPem);
    await writeFile(join(work, 'admin-key.pem'), pki.admin.keyPem);
    await writeFile(join(work, 'ca.pem'), pki.serverCa.certPem);
    server = createServer({ cert: pki.server.certPem, key: pki.server.keyPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({
          method: req.method!,
          url: req.url!,
          authorization: req.headers.authorization,
          ifMatch: req.headers['if-match'],
          body: Buffer.concat(chunks).toString(),
          certificate: peer?.raw ? new X509Certificate(peer.raw).fingerprint256 : undefined,
        });
        const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(body));
        };
        if (req.url === '/token') return json(200, { access_token: 'token-1', token_type: 'Bearer', expires_in: 300 });
        if (req.method === 'GET' && req.url === '/admin/v1/clients/ledger') {
          return json(200, { client_id: 'ledger', tls_client_auth_subject_dn: 'CN=ledger', disabled: false }, { etag: '"7"' });
        }
        if (req.url === '/admin/v1/clients/evil') return json(200, { client_id: 'evil', client_name: 'a\u001b[2Jb\u009bc' }, { etag: '"1"' });
        if (req.method === 'PUT' && req.url === '/admin/v1/clients/ledger') {
          if (putStatus === 412) return json(412, { error: 'precondition_failed', error_description: 'If-Match: the resource changed since that ETag; its ETag is now "8": GET it again and retry' });
          return json(200, JSON.parse(Buffer.concat(chunks).toString()), { etag: '"8"' });
        }
        json(404, { error: 'not_found', error_description: `no admin route ${req.method} ${req.url}` });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://localhost:${(server.address() as { port: number }).port}`;
  });

  after(async () => {
    server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function run(argv: string[]) {
    let stdout = '';
    let stderr = '';
    const env = { CERTBOUND_URL: url, CERTBOUND_ADMIN_CERT: 'admin.pem', CERTBOUND_ADMIN_KEY: 'admin-key.pem', CERTBOUND_CA: 'ca.pem' };
    const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, cwd: work };
    seen = [];
    return { code: await main(argv, io), stdout, stderr };
  }

  it('update: one token, then GET and PUT with If-Match, all over the admin certificate', async () => {
    putStatus = 200;
    const result = await run(['clients', 'update', 'ledger', '--name', 'Ledger', '--json']);
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), ['POST /token', 'GET /admin/v1/clients/ledger', 'PUT /admin/v1/clients/ledger']);
    assert.equal(seen[0].body, 'grant_type=client_credentials&client_id=admin&scope=admin');
    assert.equal(seen[0].authorization, undefined);
    assert.deepEqual(seen.slice(1).map((s) => s.authorization), ['Bearer token-1', 'Bearer token-1']);
    assert.equal(seen[2].ifMatch, '"7"');
    assert.deepEqual(JSON.parse(seen[2].body), { client_id: 'ledger', tls_client_auth_subject_dn: 'CN=ledger', disabled: false, client_name: 'Ledger' });
    for (const s of seen) assert.equal(s.certificate, pki.admin.cert.fingerprint256);
  });

  it('a PUT that loses the race to another admin (412) exits 4 and says to run again', async () => {
    putStatus = 412;
    const result = await run(['clients', 'update', 'ledger', '--name', 'Ledger']);
    assert.equal(result.code, 4);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      'certbound: client "ledger" was changed by someone else since it was read; run again ' +
        '(412 precondition_failed: If-Match: the resource changed since that ETag; its ETag is now "8": GET it again and retry)\n',
    );
  });

  it('a 404 from the token endpoint is a wrong --url (exit 1), not a missing client', async () => {
    const result = await run(['clients', 'list', '--url', `${url}/elsewhere`]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `certbound: the token endpoint ${url}/elsewhere/token refused client "admin" with certificate ${join(work, 'admin.pem')}: 404 not_found: no admin route POST /elsewhere/token\n`);
  });

  it('server text is made printable: control characters cannot drive the terminal', async () => {
    const result = await run(['clients', 'show', 'evil']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, 'client_id    evil\nclient_name  a\\x1b[2Jb\\x9bc\netag         "1"\n');
  });
});
