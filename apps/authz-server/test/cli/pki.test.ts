import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main, type CliIo } from '../../src/cli/main.ts';
import { sansOf } from '../../src/mtls/san.ts';
import { subjectDnOf } from '../../src/mtls/subject-dn.ts';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';
import { ensureDevPki } from '../../../../test/support/pki.ts';

const SHIM = fileURLToPath(new URL('../../bin/certbound.js', import.meta.url));

/** Runs the CLI in-process, capturing its output. */
async function run(argv: string[], cwd: string, env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, cwd };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

describe('certbound pki issue', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'certbound-cli-'));
    await ensureDevPki(join(work, '.data'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('issues NAME.pem and NAME-key.pem from the dev CA and prints subject, thumbprint and expiry', async () => {
    const result = await run(['pki', 'issue', '--cn', 'ledger', '--san-uri', 'spiffe://example.org/ns/payments/sa/ledger', '--san-dns', 'ledger.example', '--san-ip', '::1', '--san-email', 'ops@example.com', '--days', '30', '--out', 'certs'], work);
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    const certFile = join(work, 'certs', 'ledger.pem');
    const keyFile = join(work, 'certs', 'ledger-key.pem');
    const cert = new X509Certificate(await readFile(certFile));
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.equal(cert.checkPrivateKey(createPrivateKey(await readFile(keyFile))), true);
    assert.equal(subjectDnOf(cert), 'CN=ledger');
    assert.deepEqual(sansOf(cert), { dns: ['ledger.example'], ip: ['::1'], uri: ['spiffe://example.org/ns/payments/sa/ledger'], email: ['ops@example.com'] });
    assert.equal(
      result.stdout,
      [
        'subject    CN=ledger',
        `x5t#S256   ${x5tS256(cert)}`,
        `notAfter   ${cert.validToDate.toISOString()}`,
        'issuer     CN=certbound dev CA,O=certbound dev',
        `cert       ${certFile}`,
        `key        ${keyFile}`,
        '',
      ].join('\n'),
    );
  });

  it('finds the CA through DATA_DIR or --ca-dir', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'certbound-cli-cwd-'));
    try {
      assert.equal((await run(['pki', 'issue', '--cn', 'via-env', '--out', 'certs'], elsewhere, { DATA_DIR: join(work, '.data') })).code, 0);
      assert.equal((await run(['pki', 'issue', '--cn=via-flag', '--out', 'certs', '--ca-dir', join(work, '.data', 'pki')], elsewhere)).code, 0);
      assert.deepEqual((await readdir(join(elsewhere, 'certs'))).sort(), ['via-env-key.pem', 'via-env.pem', 'via-flag-key.pem', 'via-flag.pem']);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('never overwrites an existing certificate', async () => {
    assert.equal((await run(['pki', 'issue', '--cn', 'once', '--out', 'certs'], work)).code, 0);
    const again = await run(['pki', 'issue', '--cn', 'once', '--out', 'certs'], work);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `certbound: ${join(work, 'certs', 'once.pem')} already exists; certbound never overwrites certificates or keys\n`);
  });

  it('exits 1 with a clear message when there is no dev CA', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'certbound-cli-empty-'));
    const result = await run(['pki', 'issue', '--cn', 'x', '--out', 'certs'], empty);
    await rm(empty, { recursive: true, force: true });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `certbound: no dev CA in ${join(empty, '.data', 'pki')} (needs ca.pem and ca-key.pem): run "certbound pki init" or start the server once, or pass --ca-dir\n`);
  });

  for (const [title, argv, message] of [
    ['without --cn', ['--out', 'x'], '--cn is required'],
    ['without --out', ['--cn', 'x'], '--out is required'],
    ['with an unknown option', ['--cn', 'x', '--out', 'x', '--colour', 'blue'], 'unknown option --colour'],
    ['with a stray argument', ['--cn', 'x', '--out', 'x', 'extra'], 'unexpected argument "extra"'],
    ['with an option missing its value', ['--cn', 'x', '--out'], '--out needs a value'],
    ['with --days that is not a positive number', ['--cn', 'x', '--out', 'x', '--days', '0'], '--days must be a positive whole number, got "0"'],
    ['with a bad IP address', ['--cn', 'x', '--out', 'x', '--san-ip', '300.1.1.1'], '--san-ip 300.1.1.1: not an IP address'],
    ['with a relative URI', ['--cn', 'x', '--out', 'x', '--san-uri', 'ledger'], '--san-uri ledger: not an absolute ASCII URI'],
    ['with a path in --cn', ['--cn', '../x', '--out', 'x'], '--cn ../x: must be a plain name (no slashes, control characters or leading dot)'],
    ['with --cn given twice', ['--cn', 'x', '--cn', 'y', '--out', 'x'], '--cn given twice'],
  ] as const) {
    it(`exits 2 ${title}`, async () => {
      const result = await run(['pki', 'issue', ...argv], work);
      assert.equal(result.code, 2);
      assert.ok(result.stderr.startsWith(`certbound: ${message}\n\nusage: certbound pki issue [options]\n`), result.stderr);
      assert.equal(result.stdout, '');
    });
  }

  it('exits 2 for an unknown group or command and without arguments', async () => {
    assert.equal((await run([], work)).code, 2);
    assert.equal((await run(['frobnicate'], work)).stderr.split('\n')[0], 'certbound: unknown command group "frobnicate"');
    assert.equal((await run(['pki', 'revoke'], work)).stderr.split('\n')[0], 'certbound: unknown command "pki revoke"');
  });

  it('prints help and exits 0', async () => {
    const result = await run(['pki', 'issue', '--help'], work);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--san-uri VALUE\s+URI subjectAltName/);
  });
});

describe('certbound pki init', () => {
  it('creates the dev PKI under --data-dir and reports it', async () => {
    const work = await mkdtemp(join(tmpdir(), 'certbound-cli-init-'));
    try {
      const first = await run(['pki', 'init', '--data-dir', 'data'], work);
      assert.equal(first.code, 0);
      assert.ok(first.stdout.startsWith(`created: ${join(work, 'data', 'pki')}\n`));
      assert.ok((await run(['pki', 'init', '--data-dir', 'data'], work)).stdout.startsWith('already present: '));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('bin/certbound.js', () => {
  it('runs the CLI under the workspace Node 24 even when started by an older node, passing the exit code through', async () => {
    const work = await mkdtemp(join(tmpdir(), 'certbound-shim-'));
    try {
      // Started as an executable: the shebang picks whatever `node` is on PATH (v20 on this machine).
      const init = spawnSync(SHIM, ['pki', 'init'], { cwd: work, encoding: 'utf8' });
      assert.equal(init.status, 0, init.stderr);
      const issued = spawnSync(SHIM, ['pki', 'issue', '--cn', 'shim-client', '--out', 'out'], { cwd: work, encoding: 'utf8' });
      assert.equal(issued.status, 0, issued.stderr);
      assert.match(issued.stdout, /^subject {4}CN=shim-client\n/);
      assert.deepEqual((await readdir(join(work, 'out'))).sort(), ['shim-client-key.pem', 'shim-client.pem']);
      const bad = spawnSync(SHIM, ['pki', 'issue'], { cwd: work, encoding: 'utf8' });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /^certbound: --cn is required\n/);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
