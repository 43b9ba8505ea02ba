// The newcomer's path, as a real process: the dev bootstrap on an empty DATA_DIR, the curl it
// prints, the thumbprint openssl computes, and a wrong certificate.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { https } from '../support/https.ts';
import type { JsonAnswer } from '../support/json-answer.ts';
import { decodeJwt, expectOAuthError } from '../support/oauth.ts';
import { startDevServer, type DevServer, type RunningProcess } from '../support/processes.ts';

describe('quick start: npm start on a fresh machine', () => {
  let server: DevServer | undefined;
  let dir: string;
  let proc: RunningProcess;
  let mtlsPort: number;

  before(async () => {
    server = await startDevServer('certbound-e2e-');
    ({ dir, proc, mtlsPort } = server);
  });

  after(async () => {
    await server?.close();
  });

  it('creates the dev PKI with private keys readable only by their owner', async () => {
    for (const name of ['ca', 'server', 'admin', 'demo-client']) {
      await stat(join(dir, '.data/pki', `${name}.pem`));
      const key = await stat(join(dir, '.data/pki', `${name}-key.pem`));
      assert.equal(key.mode & 0o077, 0, `${name}-key.pem is readable by others`);
    }
  });

  it('prints a curl that returns a JWT bound to demo-client.pem (thumbprint by openssl)', async () => {
    const printed = proc.stdout().match(/(curl --cacert[\s\S]*?\/token)\n/)![1];
    const answer = JSON.parse(execFileSync('sh', ['-c', printed.replace(/\\\n/g, ' ')], { cwd: dir, encoding: 'utf8' })) as JsonAnswer;
    const { header, payload } = decodeJwt(answer.access_token);
    assert.equal(header.typ, 'at+jwt');
    const openssl = execFileSync('sh', ['-c', 'openssl x509 -in .data/pki/demo-client.pem -outform DER | openssl dgst -sha256 -binary | openssl base64 -A'], { cwd: dir, encoding: 'utf8' })
      .trim().replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    assert.equal(payload.cnf['x5t#S256'], openssl);
    assert.equal(payload.client_id, 'demo-client');
    assert.equal(payload.aud, 'https://localhost:9443');
    assert.equal(answer.scope, 'settlements:read settlements:write');
  });

  it('refuses the demo client with the admin certificate, naming the subject check', async () => {
    const pki = join(dir, '.data/pki');
    const res = await https(`https://localhost:${mtlsPort}/token`, {
      ca: await readFile(join(pki, 'ca.pem'), 'utf8'),
      identity: { cert: await readFile(join(pki, 'admin.pem'), 'utf8'), key: await readFile(join(pki, 'admin-key.pem'), 'utf8') },
      form: { grant_type: 'client_credentials', client_id: 'demo-client' },
    });
    expectOAuthError(res, 401, 'invalid_client', /does not match the registered tls_client_auth_subject_dn/);
    // The log line travels through the child's stdout pipe; it may arrive just after the answer.
    const refusals = () => proc.logs().filter((l) => l.event === 'oauth_refusal' && l.client_id === 'demo-client');
    for (let i = 0; i < 50 && refusals().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(refusals().length, 1, 'one structured refusal line');
    const line = refusals()[0];
    assert.match(line.certificate.subject, /CN=admin/);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    assert.equal(await proc.stop('SIGTERM'), 0);
  });
});
