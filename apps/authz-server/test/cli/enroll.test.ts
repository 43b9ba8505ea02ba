// `certbound enroll` and `certbound renew` against a real server process (the dev start in an
// empty directory: its dev PKI, issuing CA and admin certificate), driven through main() the way
// cron or an operator's script drives them: the files written (key mode 0600, the chain), the
// tokens the certificates get, renewal inside and outside the window, the atomic replacement
// (the old pair kept as .previous, no temporary file left, nothing touched on a refusal), and
// the exit codes (0 done or nothing to do, 1 refused or failed, 2 usage, 4 files already there).
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { main, type CliIo } from '../../src/cli/main.ts';
import { DEMO_RESOURCE } from '../../src/dev/registrations.ts';
import { issueCertificate, loadIssued } from '../../src/pki/issue.ts';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';
import { startDevServer, type DevServer } from '../../../../test/support/processes.ts';
import { https, type TlsIdentity } from '../../../../test/support/https.ts';
import { decodeJwt } from '../../../../test/support/oauth.ts';

const PARTNER_DN = 'CN=partner-a,O=certbound tests';

describe('certbound enroll / renew against a real server', () => {
  let dev: DevServer;
  let pkiDir: string;
  let ca: string;
  let mtlsUrl: string;
  let admin: TlsIdentity;
  let adminToken: string;
  let work: string;

  async function run(argv: string[], env: Record<string, string> = {}) {
    let stdout = '';
    let stderr = '';
    // DATA_DIR relative to the server's directory: --ca defaults to .data/pki/ca.pem, --url to MTLS_PORT
    const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { DATA_DIR: '.data', MTLS_PORT: String(dev.mtlsPort), ...env }, cwd: dev.dir };
    const code = await main(argv, io);
    return { code, stdout, stderr };
  }

  const adminCall = (method: string, path: string, json?: unknown) =>
    https(`${mtlsUrl}/admin/v1${path}`, { method, ca, identity: admin, ...(json === undefined ? {} : { json }), headers: { authorization: `Bearer ${adminToken}` } });

  async function enrollmentCode(clientId = 'partner-a', body: Record<string, unknown> = {}): Promise<string> {
    const res = await adminCall('POST', `/clients/${clientId}/enrollment-codes`, body);
    assert.equal(res.status, 201, res.text);
    assert.equal(typeof res.json.code, 'string');
    return res.json.code;
  }

  const token = (clientId: string, identity: TlsIdentity) =>
    https(`${mtlsUrl}/token`, { ca, identity, form: { grant_type: 'client_credentials', client_id: clientId } });

  const thumbprint = (pem: string) => x5tS256(new X509Certificate(pem));
  const certsIn = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));

  /** enroll partner-a into a fresh directory; its files */
  async function enrolled(args: string[] = []) {
    const out = await mkdtemp(join(work, 'out-'));
    const result = await run(['enroll', '--client-id', 'partner-a', '--code', await enrollmentCode(), '--out', out, ...args]);
    assert.equal(result.code, 0, result.stderr);
    return { out, cert: join(out, 'partner-a.pem'), key: join(out, 'partner-a-key.pem'), stdout: result.stdout };
  }

  before(async () => {
    dev = await startDevServer('certbound-enroll-cli-');
    pkiDir = join(dev.dir, '.data', 'pki');
    mtlsUrl = `https://localhost:${dev.mtlsPort}`;
    ca = await readFile(join(pkiDir, 'ca.pem'), 'utf8');
    admin = { cert: await readFile(join(pkiDir, 'admin.pem'), 'utf8'), key: await readFile(join(pkiDir, 'admin-key.pem'), 'utf8') };
    const adminRes = await https(`${mtlsUrl}/token`, { ca, identity: admin, form: { grant_type: 'client_credentials', client_id: 'admin', scope: 'admin' } });
    assert.equal(adminRes.status, 200, adminRes.text);
    adminToken = adminRes.json.access_token;
    const created = await adminCall('POST', '/clients', {
      client_id: 'partner-a', tls_client_auth_subject_dn: PARTNER_DN, resources: { [DEMO_RESOURCE]: ['settlements:read'] }, default_resource: DEMO_RESOURCE,
    });
    assert.equal(created.status, 201, created.text);
    work = await mkdtemp(join(tmpdir(), 'certbound-enroll-work-'));
  });

  after(async () => {
    await dev?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('certbound enroll', () => {
    it('writes the key (0600) and the issued certificate followed by the issuing CA; the certificate carries the registered subject and gets a bound token', async () => {
      const { out, cert, key, stdout } = await enrolled();
      assert.deepEqual((await readdir(out)).sort(), ['partner-a-key.pem', 'partner-a.pem']);
      assert.equal((await stat(key)).mode & 0o777, 0o600);
      const certPem = await readFile(cert, 'utf8');
      const keyPem = await readFile(key, 'utf8');
      const [leaf, issuing, ...rest] = certsIn(certPem);
      assert.deepEqual(rest, [], 'the chain stops below the root');
      const issuingCa = new X509Certificate(await readFile(join(pkiDir, 'issuing-ca.pem'), 'utf8'));
      assert.equal(issuing.fingerprint256, issuingCa.fingerprint256, 'the issuing CA follows the certificate');
      assert.ok(leaf.verify(issuingCa.publicKey), 'signed by the issuing CA');
      assert.ok(leaf.checkPrivateKey(createPrivateKey(keyPem)), 'the key file belongs to the certificate');
      assert.equal(createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1', 'ec-p256 by default');
      assert.equal(leaf.subject, 'O=certbound tests\nCN=partner-a');
      assert.match(stdout, new RegExp(`^enrolled partner-a\\n {2}certificate {2}${cert}\\n {2}key {10}${key}\\n`));
      assert.match(stdout, new RegExp(`x5t#S256 {5}${thumbprint(certPem)}\\n$`));

      const res = await token('partner-a', { cert: certPem, key: keyPem });
      assert.equal(res.status, 200, res.text);
      assert.equal(decodeJwt(res.json.access_token).payload.cnf['x5t#S256'], thumbprint(certPem));
    });

    it('--key-type ec-p384 and rsa-3072 make those keys', async () => {
      for (const [type, check] of [['ec-p384', (k: ReturnType<typeof createPrivateKey>) => k.asymmetricKeyDetails?.namedCurve === 'secp384r1'],
        ['rsa-3072', (k: ReturnType<typeof createPrivateKey>) => k.asymmetricKeyDetails?.modulusLength === 3072]] as const) {
        const { cert, key } = await enrolled(['--key-type', type]);
        const keyObject = createPrivateKey(await readFile(key, 'utf8'));
        assert.ok(check(keyObject), type);
        assert.ok(new X509Certificate(await readFile(cert, 'utf8')).checkPrivateKey(keyObject));
      }
    });

    it('--code - reads the code from stdin (kept out of the process list and the shell history)', async () => {
      let stderr = '';
      const out = join(work, 'stdin');
      const io: CliIo = {
        stdout: () => undefined, stderr: (t) => void (stderr += t), env: { DATA_DIR: '.data', MTLS_PORT: String(dev.mtlsPort) }, cwd: dev.dir,
        stdin: Readable.from([`${await enrollmentCode()}\n`]),
      };
      assert.equal(await main(['enroll', '--client-id', 'partner-a', '--code', '-', '--out', out], io), 0, stderr);
      assert.deepEqual((await readdir(out)).sort(), ['partner-a-key.pem', 'partner-a.pem']);
    });

    it('a used code: exit 1 naming the refusal (401), and no file written', async () => {
      const code = await enrollmentCode();
      const first = await run(['enroll', '--client-id', 'partner-a', '--code', code, '--out', join(work, 'once')]);
      assert.equal(first.code, 0, first.stderr);
      const out = join(work, 'twice');
      const again = await run(['enroll', '--client-id', 'partner-a', '--code', code, '--out', out]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^certbound: simpleenroll refused: 401 \S+: .+\n$/);
      assert.deepEqual(await readdir(out).catch(() => []), []);
    });

    it('files already there: exit 4 before the code is spent (the same code then enrolls elsewhere)', async () => {
      const code = await enrollmentCode();
      const busy = join(work, 'busy');
      await mkdir(busy);
      await writeFile(join(busy, 'partner-a.pem'), 'keep me');
      const refused = await run(['enroll', '--client-id', 'partner-a', '--code', code, '--out', busy]);
      assert.equal(refused.code, 4);
      assert.match(refused.stderr, /partner-a\.pem already exists: "certbound renew" renews a certificate/);
      assert.equal(await readFile(join(busy, 'partner-a.pem'), 'utf8'), 'keep me');
      const ok = await run(['enroll', '--client-id', 'partner-a', '--code', code, '--out', join(work, 'free')]);
      assert.equal(ok.code, 0, ok.stderr);
    });

    it('usage errors exit 2: an unknown key type, a client_id that is a path, a missing --code', async () => {
      const keyType = await run(['enroll', '--client-id', 'partner-a', '--code', 'x', '--out', work, '--key-type', 'rsa-1024']);
      assert.equal(keyType.code, 2);
      assert.match(keyType.stderr, /--key-type rsa-1024: must be one of ec-p256, ec-p384, rsa-3072/);
      const path = await run(['enroll', '--client-id', '../evil', '--code', 'x', '--out', work]);
      assert.equal(path.code, 2);
      assert.match(path.stderr, /--client-id \.\.\/evil: must be a client_id usable as a file name/);
      const missing = await run(['enroll', '--client-id', 'partner-a', '--out', work]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /--code is required/);
    });

    it('a server whose certificate does not chain to --ca: exit 1 naming --ca, nothing sent', async () => {
      const other = await issueCertificate({ subject: 'CN=some other CA', ca: true, days: 1 });
      const caFile = join(work, 'other-ca.pem');
      await writeFile(caFile, other.certPem);
      const out = join(work, 'wrong-ca');
      const res = await run(['enroll', '--client-id', 'partner-a', '--code', 'unused', '--out', out, '--ca', caFile, '--url', mtlsUrl]);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^certbound: cannot reach https:\/\/localhost:\d+: .* \(the server's certificate does not chain to --ca .*other-ca\.pem\)\n$/);
      assert.deepEqual(await readdir(out).catch(() => []), []);
    });
  });

  describe('certbound renew', () => {
    it('outside the window: exit 0 "nothing to do", the files untouched', async () => {
      const { cert, key } = await enrolled();
      const before = { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8'), mtime: (await stat(cert)).mtimeMs };
      const res = await run(['renew', '--cert', cert, '--key', key]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /^nothing to do: .*partner-a\.pem is valid until \S+, renewal starts at \S+ \(--renew-before 8h\)\n$/);
      assert.equal(await readFile(cert, 'utf8'), before.cert);
      assert.equal(await readFile(key, 'utf8'), before.key);
      assert.equal((await stat(cert)).mtimeMs, before.mtime);
    });

    it('inside the window: a new key and certificate in place (key 0600), the old pair as .previous, no temporary file left; both certificates get tokens', async () => {
      const { out, cert, key } = await enrolled(['--key-type', 'ec-p384']);
      const old = { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
      const res = await run(['renew', '--cert', cert, '--key', key, '--renew-before', '1d1h']);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /^renewed \(was valid until \S+\)\n {2}certificate {2}/);
      assert.match(res.stderr, /^certbound: note: the new certificate is valid for \d+ min, within --renew-before 1d1h: every run will renew it\n$/);
      assert.deepEqual((await readdir(out)).sort(), ['partner-a-key.pem', 'partner-a-key.pem.previous', 'partner-a.pem', 'partner-a.pem.previous']);
      const next = { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
      assert.equal(await readFile(`${cert}.previous`, 'utf8'), old.cert);
      assert.equal(await readFile(`${key}.previous`, 'utf8'), old.key);
      assert.equal((await stat(key)).mode & 0o777, 0o600);
      assert.equal((await stat(`${key}.previous`)).mode & 0o777, 0o600);
      assert.notEqual(next.key, old.key, 'a new key');
      const [leaf, issuing] = certsIn(next.cert);
      assert.ok(leaf.checkPrivateKey(createPrivateKey(next.key)));
      assert.equal(createPrivateKey(next.key).asymmetricKeyDetails?.namedCurve, 'secp384r1', 'the type of the current key is kept');
      assert.equal(leaf.subject, 'O=certbound tests\nCN=partner-a', 'the registered identity, again');
      assert.equal(issuing.fingerprint256, certsIn(old.cert)[1].fingerprint256);
      assert.notEqual(thumbprint(next.cert), thumbprint(old.cert));

      for (const pair of [next, old]) {
        const res = await token('partner-a', pair);
        assert.equal(res.status, 200, res.text);
        assert.equal(decodeJwt(res.json.access_token).payload.cnf['x5t#S256'], thumbprint(pair.cert));
      }
    });

    it('another run holding the lock: exit 1 naming it, the files untouched; a lock left by a dead run (10 min old) is taken over', async () => {
      const { cert, key } = await enrolled();
      const old = await readFile(cert, 'utf8');
      await writeFile(`${cert}.renew-lock`, '12345\n');
      const busy = await run(['renew', '--cert', cert, '--key', key, '--renew-before', '2d']);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /^certbound: another renew of .*partner-a\.pem is running \(.*partner-a\.pem\.renew-lock exists, \d+ s old; removed after 10 min\)\n$/);
      assert.equal(await readFile(cert, 'utf8'), old);
      const longAgo = new Date(Date.now() - 11 * 60_000);
      await utimes(`${cert}.renew-lock`, longAgo, longAgo);
      const renewed = await run(['renew', '--cert', cert, '--key', key, '--renew-before', '2d']);
      assert.equal(renewed.code, 0, renewed.stderr);
      assert.notEqual(await readFile(cert, 'utf8'), old);
      await assert.rejects(stat(`${cert}.renew-lock`), { code: 'ENOENT' }, 'the lock is gone');
    });

    it('a revoked certificate: exit 1 naming the refusal (403), the files untouched', async () => {
      const { out, cert, key } = await enrolled();
      const old = { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
      const revoked = await adminCall('POST', `/clients/partner-a/certificates/${thumbprint(old.cert)}/revoke`, { reason: 'keyCompromise' });
      assert.equal(revoked.status, 200, revoked.text);
      const res = await run(['renew', '--cert', cert, '--key', key, '--renew-before', '2d']);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^certbound: simplereenroll refused: 403 \S+: .+\n$/);
      assert.deepEqual((await readdir(out)).sort(), ['partner-a-key.pem', 'partner-a.pem']);
      assert.equal(await readFile(cert, 'utf8'), old.cert);
      assert.equal(await readFile(key, 'utf8'), old.key);
    });

    it('an expired certificate: exit 1 saying to enroll again, nothing sent', async () => {
      const issuingCa = await loadIssued(await readFile(join(pkiDir, 'issuing-ca.pem'), 'utf8'), await readFile(join(pkiDir, 'issuing-ca-key.pem'), 'utf8'));
      const expired = await issueCertificate({
        subject: PARTNER_DN, issuer: issuingCa, notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 60_000),
      });
      const cert = join(work, 'expired.pem');
      const key = join(work, 'expired-key.pem');
      await writeFile(cert, expired.certPem + issuingCa.certPem);
      await writeFile(key, expired.keyPem, { mode: 0o600 });
      const res = await run(['renew', '--cert', cert, '--key', key, '--url', 'https://localhost:1']);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /expired\.pem expired at \S+: re-enrollment needs a valid certificate; ask an admin for an enrollment code and run "certbound enroll"\n$/);
    });

    it('a key that is not the certificate\'s: exit 1; a bad --renew-before: exit 2', async () => {
      const a = await enrolled();
      const b = await enrolled();
      const mismatch = await run(['renew', '--cert', a.cert, '--key', b.key]);
      assert.equal(mismatch.code, 1);
      assert.match(mismatch.stderr, /does not belong to the certificate in/);
      const window = await run(['renew', '--cert', a.cert, '--key', a.key, '--renew-before', 'soon']);
      assert.equal(window.code, 2);
      assert.match(window.stderr, /--renew-before soon: must be a duration such as 30m, 8h or 1d12h/);
    });
  });
});
