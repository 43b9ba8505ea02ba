// `certbound doctor`: offline against a trust store on this machine, and online through a real
// server's GET /mtls/check over mutual TLS; exit 0 when every step passed, 1 naming the failing
// step and its fix, 2 for a usage error. Certificates are issued at test time.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main, type CliIo } from '../../src/cli/main.ts';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/issue.ts';
import type { Diagnosis } from '../../src/mtls/diagnosis.ts';
import { makeTestPki, startTestAuthz, type TestAuthz, type TestPki } from '../../../../test/support/authz.ts';

const DAY = 86_400_000;

async function doctor(args: string[], env: Record<string, string | undefined> = {}, cwd = tmpdir()) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, cwd };
  const code = await main(['doctor', ...args], io);
  return { code, stdout, stderr };
}

describe('certbound doctor', () => {
  let work: string;
  let pki: TestPki;
  let intermediate: IssuedCertificate;
  const file = async (name: string, text: string) => {
    const path = join(work, name);
    await writeFile(path, text, { mode: 0o600 });
    return path;
  };
  /** NAME.pem (leaf, then `chain`) and NAME-key.pem, as `certbound pki` writes them */
  const pair = async (name: string, cert: IssuedCertificate, chain: IssuedCertificate[] = []) => {
    await file(`${name}-key.pem`, cert.keyPem);
    return file(`${name}.pem`, [cert, ...chain].map((c) => c.certPem).join(''));
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'certbound-doctor-'));
    pki = await makeTestPki();
    intermediate = await issueCertificate({ subject: 'CN=doctor issuing CA', issuer: pki.clientRoot, ca: true, pathLength: 0, days: 30 });
    await file('trust.pem', pki.clientRoot.certPem);
    await file('server-ca.pem', pki.serverCa.certPem);
  });
  after(async () => { await rm(work, { recursive: true, force: true }); });

  describe('--offline --trust FILE', () => {
    it('exit 0 and every step printed for a good certificate with its intermediate', async () => {
      const leaf = await issueCertificate({ subject: 'CN=settlement,O=Example Bank', issuer: intermediate, days: 20 });
      const cert = await pair('good', leaf, [intermediate]);
      const run = await doctor(['--cert', cert, '--offline', '--trust', join(work, 'trust.pem')]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /^certificate CN=settlement,O=Example Bank {2}serial /);
      for (const step of ['presented', 'chain', 'dates', 'key_usage', 'revocation']) assert.match(run.stdout, new RegExp(`^ok {3}${step} `, 'm'));
      assert.match(run.stdout, /^-- {3}client_match +not checked: no client_id given/m);
      assert.match(run.stdout, /\nevery step passed\n$/);
    });

    it('exit 1 naming the failing step and the fix in one sentence: expired 3 days ago', async () => {
      const leaf = await issueCertificate({ subject: 'CN=old', issuer: pki.clientRoot, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - 3 * DAY - 60_000) });
      const run = await doctor(['--cert', await pair('expired', leaf), '--offline', '--trust', join(work, 'trust.pem')]);
      assert.equal(run.code, 1);
      assert.match(run.stdout, /^FAIL dates +certificate expired at .*: expired 3 days ago by the server's clock/m);
      assert.match(run.stdout, /^-- {3}key_usage +not checked: the dates step failed$/m);
      assert.match(run.stdout, /\ndates failed: the certificate expired 3 days ago: issue a new one and add it with `certbound certs add`\n$/);
    });

    it('a missing intermediate names it; --json prints the diagnosis', async () => {
      const leaf = await issueCertificate({ subject: 'CN=forgetful', issuer: intermediate, days: 20 });
      const run = await doctor(['--cert', await pair('forgetful', leaf), '--offline', '--trust', join(work, 'trust.pem'), '--json']);
      assert.equal(run.code, 1);
      const diagnosis = JSON.parse(run.stdout) as Diagnosis;
      assert.equal(diagnosis.first_failure?.check, 'chain');
      assert.match(diagnosis.first_failure?.detail ?? '', /the missing intermediate is "CN=doctor issuing CA"$/);
    });

    it('usage errors: --offline without --trust, --client-id offline (exit 2)', async () => {
      const cert = join(work, 'good.pem');
      const noTrust = await doctor(['--cert', cert, '--offline']);
      assert.equal(noTrust.code, 2);
      assert.match(noTrust.stderr, /--offline needs --trust FILE/);
      const clientOffline = await doctor(['--cert', cert, '--offline', '--trust', join(work, 'trust.pem'), '--client-id', 'x']);
      assert.equal(clientOffline.code, 2);
      const missing = await doctor([]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /--cert is required/);
    });

    it('an unreadable file is exit 1 with its name', async () => {
      const run = await doctor(['--cert', join(work, 'nope.pem'), '--offline', '--trust', join(work, 'trust.pem')]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /cannot read the certificate .*nope\.pem \(--cert\): ENOENT/);
    });
  });

  describe('online, through GET /mtls/check on a real server', () => {
    let as: TestAuthz;
    let good: string;
    let otherUnit: string;
    before(async () => {
      as = await startTestAuthz({ pki });
      await as.registerResource({ identifier: 'https://ledger-api.test', scopes: ['ledger:read'] });
      await as.register({ client_id: 'settlement', tls_client_auth_subject_dn: 'CN=settlement,OU=payments,O=Example Bank', default_resource: 'https://ledger-api.test', scope: 'ledger:read' });
      good = await pair('online-good', await issueCertificate({ subject: 'CN=settlement,OU=payments,O=Example Bank', issuer: pki.clientRoot, days: 20 }));
      otherUnit = await pair('online-treasury', await issueCertificate({ subject: 'CN=settlement,OU=treasury,O=Example Bank', issuer: pki.clientRoot, days: 20 }));
    });
    after(async () => { await as?.close(); });

    it('exit 0 for the client\'s certificate (key found beside it, --url and --ca given)', async () => {
      const run = await doctor(['--cert', good, '--client-id', 'settlement', '--url', as.mtlsUrl, '--ca', join(work, 'server-ca.pem')]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /^ok {3}client_match +tls_client_auth_subject_dn "CN=settlement,OU=payments,O=Example Bank" matches$/m);
    });

    it('defaults like the admin CLI: $CERTBOUND_URL and $CERTBOUND_CA, else MTLS_PORT and $DATA_DIR/pki/ca.pem', async () => {
      const byEnv = await doctor(['--cert', good], { CERTBOUND_URL: as.mtlsUrl, CERTBOUND_CA: join(work, 'server-ca.pem') });
      assert.equal(byEnv.code, 0, byEnv.stdout + byEnv.stderr);
      const data = join(work, 'data');
      await rm(data, { recursive: true, force: true });
      await (await import('node:fs/promises')).mkdir(join(data, 'pki'), { recursive: true });
      await writeFile(join(data, 'pki', 'ca.pem'), pki.serverCa.certPem);
      const byDefaults = await doctor(['--cert', good], { MTLS_PORT: new URL(as.mtlsUrl).port, DATA_DIR: data });
      assert.equal(byDefaults.code, 0, byDefaults.stdout + byDefaults.stderr);
    });

    it('exit 1 for a subject mismatch, naming the first differing RDN and the fix', async () => {
      const run = await doctor(['--cert', otherUnit, '--client-id', 'settlement', '--url', as.mtlsUrl, '--ca', join(work, 'server-ca.pem')]);
      assert.equal(run.code, 1);
      assert.match(run.stdout, /^FAIL client_match +client "settlement": .*first difference at RDN 2 .*: expected "OU=payments", presented "OU=treasury"$/m);
      assert.match(run.stdout, /\nclient_match failed: present the certificate issued for this client, or change the client's tls_client_auth_subject_dn/);
    });

    it('a key that is not the certificate\'s is exit 1 naming both files, before any connection', async () => {
      const run = await doctor(['--cert', good, '--key', join(work, 'online-treasury-key.pem'), '--url', as.mtlsUrl, '--ca', join(work, 'server-ca.pem')]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /the key in .*online-treasury-key\.pem \(--key\) does not belong to the certificate in .*online-good\.pem \(--cert\)/);
    });

    it('the public listener is not the check: exit 1 saying --url must name the mutual-TLS listener', async () => {
      const run = await doctor(['--cert', good, '--url', as.publicUrl, '--ca', join(work, 'server-ca.pem')]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /has no \/mtls\/check .*--url must name the mutual-TLS listener/);
    });
  });
});
