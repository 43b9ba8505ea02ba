import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { validatePath } from '../../src/mtls/path-validation.ts';
import { sansOf } from '../../src/mtls/san.ts';
import { loadTrustStore } from '../../src/mtls/trust-store.ts';
import { ensureDevPki, type DevPki } from '../../../../test/support/pki.ts';

const FILES = ['admin-key.pem', 'admin.pem', 'ca-key.pem', 'ca.pem', 'demo-client-key.pem', 'demo-client.pem',
  'issuing-ca-key.pem',
  'issuing-ca.pem', 'server-key.pem', 'server.pem'];
const mode = async (path: string) => (await stat(path)).mode & 0o777;
const cert = async (path: string) => new X509Certificate(await readFile(path));

describe('development PKI', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'certbound-devpki-'));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('creates the CA, server, admin and demo-client files with private modes', async () => {
    const pki = await ensureDevPki(dataDir);
    assert.equal(pki.created, true);
    assert.equal(pki.dir, join(dataDir, 'pki'));
    assert.deepEqual((await readdir(pki.dir)).sort(), FILES);
    assert.equal(await mode(pki.dir), 0o700);
    for (const file of FILES) assert.equal(await mode(join(pki.dir, file)), file.endsWith('-key.pem') ? 0o600 : 0o644, file);
    assert.equal(pki.adminSubjectDn, 'CN=admin');
    assert.equal(pki.demoClientSubjectDn, 'CN=demo-client,O=certbound dev');
  });

  it('issues client certificates that chain to the dev CA', async () => {
    const pki = await ensureDevPki(dataDir);
    const store = loadTrustStore(await readFile(pki.caFile, 'utf8'), pki.caFile);
    for (const file of [pki.adminCertFile, pki.demoClientCertFile]) {
      const verdict = await validatePath({ leaf: await cert(file), trustStore: store });
      assert.equal(verdict.ok, true, file);
    }
    // the server certificate is for TLS servers only
    const server = await validatePath({ leaf: await cert(pki.serverCertFile), trustStore: store });
    assert.equal(server.ok === false && server.code, 'ext_key_usage');
  });

  it('makes an issuing CA for enrollment below the dev CA, never the root itself', async () => {
    const pki = await ensureDevPki(dataDir);
    const issuing = await cert(pki.issuingCaFile);
    const root = await cert(pki.caFile);
    assert.equal(issuing.ca, true);
    assert.equal(issuing.checkIssued(root), true);
    assert.equal(issuing.verify(root.publicKey), true);
    assert.notEqual(issuing.fingerprint256, root.fingerprint256);
    assert.equal(pki.issuingCaKeyFile, join(pki.dir, 'issuing-ca-key.pem'));
  });

  it('gives the server certificate localhost names', async () => {
    const pki = await ensureDevPki(dataDir);
    const server = await cert(pki.serverCertFile);
    assert.deepEqual(sansOf(server), { dns: ['localhost'], ip: ['127.0.0.1', '::1'], uri: [], email: [] });
    assert.equal(server.checkHost('localhost'), 'localhost');
  });

  it('makes the CA a CA valid for ten years', async () => {
    const pki = await ensureDevPki(dataDir);
    const ca = await cert(pki.caFile);
    assert.equal(ca.ca, true);
    const years = (ca.validToDate.getTime() - Date.now()) / (365 * 86_400_000);
    assert.ok(years > 9.9 && years < 10.1, `${years} years`);
  });

  it('reuses existing files and never rewrites them', async () => {
    const first = await ensureDevPki(dataDir);
    const before = await snapshot(first);
    const second = await ensureDevPki(dataDir);
    assert.equal(second.created, false);
    assert.deepEqual(await snapshot(second), before);
    assert.deepEqual({ ...second, created: true }, first);
  });

  it('completes a partial set, keeping what exists', async () => {
    const first = await ensureDevPki(dataDir);
    const ca = await readFile(first.caFile, 'utf8');
    const demo = await readFile(first.demoClientCertFile, 'utf8');
    await unlink(first.adminCertFile);
    await unlink(first.adminKeyFile);
    const second = await ensureDevPki(dataDir);
    assert.equal(second.created, true);
    assert.equal(await readFile(second.caFile, 'utf8'), ca);
    assert.equal(await readFile(second.demoClientCertFile, 'utf8'), demo);
    const store = loadTrustStore(ca, 'ca');
    assert.equal((await validatePath({ leaf: await cert(second.adminCertFile), trustStore: store })).ok, true);
  });

  it('certifies a key left without its certificate by an interrupted run', async () => {
    const first = await ensureDevPki(dataDir);
    const key = await readFile(first.demoClientKeyFile, 'utf8');
    await unlink(first.demoClientCertFile);
    const second = await ensureDevPki(dataDir);
    assert.equal(await readFile(second.demoClientKeyFile, 'utf8'), key);
    const reissued = await cert(second.demoClientCertFile);
    assert.equal(reissued.checkPrivateKey(createPrivateKey(key)), true);
  });

  it('refuses a certificate whose key is gone, saying what to delete', async () => {
    const first = await ensureDevPki(dataDir);
    await unlink(first.caKeyFile);
    await assert.rejects(ensureDevPki(dataDir), {
      message: `${first.caFile} exists but its key ${first.caKeyFile} is missing; delete ${first.caFile} to have a new one issued`,
    });
  });

  it('refuses certificates left over from another dev CA', async () => {
    const first = await ensureDevPki(dataDir);
    await unlink(first.caFile);
    await unlink(first.caKeyFile);
    await assert.rejects(ensureDevPki(dataDir), {
      message: `${first.serverCertFile} was not issued by the dev CA CN=certbound dev CA,O=certbound dev; delete it and ${first.serverKeyFile} to have them issued again`,
    });
  });

  it('leaves no temporary files and agrees with itself when started twice at once', async () => {
    const [a, b] = await Promise.all([ensureDevPki(dataDir), ensureDevPki(dataDir)]);
    assert.deepEqual({ ...a, created: true }, { ...b, created: true });
    assert.deepEqual((await readdir(a.dir)).sort(), FILES);
    const store = loadTrustStore(await readFile(a.caFile, 'utf8'), 'ca');
    for (const file of [a.adminCertFile, a.demoClientCertFile]) {
      assert.equal((await validatePath({ leaf: await cert(file), trustStore: store })).ok, true);
    }
  });

  it('refuses a key file that does not belong to its certificate', async () => {
    const first = await ensureDevPki(dataDir);
    await writeFile(first.adminKeyFile, await readFile(first.demoClientKeyFile));
    await assert.rejects(ensureDevPki(dataDir), (error: Error) => error.message.startsWith(`${first.adminCertFile} / ${first.adminKeyFile}: private key does not match`));
  });
});

async function snapshot(pki: DevPki): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of FILES) out[file] = await readFile(join(pki.dir, file), 'utf8');
  return out;
}
