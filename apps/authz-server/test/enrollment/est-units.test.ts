// enrollment/csr.ts key rules and csrattrs, pki/issuing.ts loading (PEM and sealed keys, never a
// root) and its CRL, and enrollment/revocations.ts answers: the parts of enrollment below HTTP.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type X509Certificate, type webcrypto } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCsr, csrAttributes } from '../../src/enrollment/csr.ts';
import { loadIssuingCa, sealIssuingKey, signCrl, IssuingCaError } from '../../src/pki/issuing.ts';
import { issueCertificate } from '../../src/pki/issue.ts';
import { createRevocationMarks, withIssuedRevocations } from '../../src/enrollment/revocations.ts';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { x509 } from '../../src/mtls/x509.ts';
import type { RevocationChecker } from '../../src/mtls/revocation/index.ts';

async function csrFor(
  generate: webcrypto.Algorithm | webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams,
  sign: webcrypto.Algorithm | webcrypto.EcdsaParams,
): Promise<string> {
  const keys = (await crypto.subtle.generateKey(generate, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=u', keys, signingAlgorithm: sign });
  return Buffer.from(csr.rawData).toString('base64');
}

describe('readCsr key rules', () => {
  it('accepts P-256, P-384, RSA 2048 and Ed25519; names the key', async () => {
    const ecdsa = { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams;
    assert.deepEqual(await readCsr(await csrFor({ name: 'ECDSA', namedCurve: 'P-256' }, ecdsa), 2048).then((r) => r.ok && r.key), 'EC P-256');
    assert.deepEqual(await readCsr(await csrFor({ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' }), 2048).then((r) => r.ok && r.key), 'EC P-384');
    const rsa = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
    assert.deepEqual(await readCsr(await csrFor(rsa, rsa), 2048).then((r) => r.ok && r.key), 'RSA 2048');
    assert.deepEqual(await readCsr(await csrFor({ name: 'Ed25519' }, { name: 'Ed25519' }), 2048).then((r) => (r.ok ? r.key : r.problem)), 'Ed25519');
  });

  it('refuses P-521 and RSA under the minimum, naming the rule', async () => {
    const p521 = await readCsr(await csrFor({ name: 'ECDSA', namedCurve: 'P-521' }, { name: 'ECDSA', hash: 'SHA-512' }), 2048);
    assert.equal(p521.ok, false);
    assert.match(!p521.ok ? p521.problem : '', /EC curve secp521r1 is not accepted/);
    const rsa = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
    const under = await readCsr(await csrFor(rsa, rsa), 3072);
    assert.match(!under.ok ? under.problem : '', /RSA key of 2048 bits is too weak \(CLIENT_CERT_MIN_RSA_BITS is 3072\)/);
  });

  it('csrattrs is one DER SEQUENCE', () => {
    const der = csrAttributes();
    assert.equal(der[0], 0x30);
    assert.equal(der[1], der.length - 2);
  });
});

describe('the issuing CA', () => {
  it('loads a PEM key and a key sealed under the KEK; refuses a wrong KEK and a root', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'issuing-'));
    try {
      const root = await issueCertificate({ subject: 'CN=r', ca: true, days: 5 });
      const ca = await issueCertificate({ subject: 'CN=i', issuer: root, ca: true, pathLength: 0, days: 5 });
      const kek = randomBytes(32);
      await writeFile(join(dir, 'ca.pem'), ca.certPem + root.certPem);
      await writeFile(join(dir, 'key.pem'), ca.keyPem);
      await writeFile(join(dir, 'sealed.pem'), sealIssuingKey(kek, ca.keyPem));
      await writeFile(join(dir, 'root.pem'), root.certPem);
      await writeFile(join(dir, 'root-key.pem'), root.keyPem);
      const plain = await loadIssuingCa({ cert: join(dir, 'ca.pem'), key: join(dir, 'key.pem') }, undefined);
      assert.equal(plain.chain.length, 1);
      const sealed = await loadIssuingCa({ cert: join(dir, 'ca.pem'), key: join(dir, 'sealed.pem') }, kek);
      assert.equal(sealed.x5t, plain.x5t);
      await assert.rejects(loadIssuingCa({ cert: join(dir, 'ca.pem'), key: join(dir, 'sealed.pem') }, randomBytes(32)), /does not open with KEY_ENCRYPTION_KEY/);
      await assert.rejects(loadIssuingCa({ cert: join(dir, 'root.pem'), key: join(dir, 'root-key.pem') }, undefined), (err: Error) => err instanceof IssuingCaError && /never from the root/.test(err.message));

      const crl = await signCrl(plain, [{ serial: '0A1B', revokedAt: new Date(), reason: 'keyCompromise' }], new Date(Date.now() - 1000), new Date(Date.now() + 86_400_000));
      await writeFile(join(dir, 'crl.der'), crl);
      const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-in', join(dir, 'crl.der'), '-CAfile', join(dir, 'ca.pem'), '-verify', '-noout', '-text'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      assert.match(text, /Serial Number: 0A1B/);
      assert.match(text, /X509v3 CRL Number/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('withIssuedRevocations', () => {
  it('answers for the issuing CA\'s leaves from the marks, even with REVOCATION_CHECK=off; other chains go to the inner checker', async () => {
    const root = await issueCertificate({ subject: 'CN=r', ca: true, days: 5 });
    const ca = await issueCertificate({ subject: 'CN=i', issuer: root, ca: true, pathLength: 0, days: 5 });
    const leaf = await issueCertificate({ subject: 'CN=l', issuer: ca, days: 1 });
    const other = await issueCertificate({ subject: 'CN=o', issuer: root, days: 1 });
    const asked: X509Certificate[][] = [];
    const inner: RevocationChecker = {
      mode: 'off', counts: () => ({}), close: () => {},
      async check(chain) { asked.push([...chain]); return { status: 'good', source: 'none', serial: chain[0].serialNumber, subject: '', validUntil: Date.now() + 1000 }; },
    };
    const marks = createRevocationMarks(createMemoryKv());
    let told = 0;
    await marks.subscribe(() => told++);
    const checker = withIssuedRevocations(inner, { issued: ca, cert: ca.cert, x5t: 'x', chain: [] }, marks);
    assert.equal(checker.mode, 'soft');
    assert.equal((await checker.check([leaf.cert, ca.cert])).status, 'good');
    await marks.revoke({ serial: leaf.cert.serialNumber, x5t: 'leaf-x5t' }, 'keyCompromise', new Date(), leaf.cert.validToDate);
    assert.equal(await marks.thumbprintRevoked('leaf-x5t'), true);
    assert.equal(await marks.thumbprintRevoked('other'), false);
    assert.ok(told >= 1, 'this instance drops its verdicts at once (and again when its own message comes back)');
    const answer = await checker.check([leaf.cert, ca.cert, root.cert]);
    assert.equal(answer.status, 'revoked');
    assert.equal(answer.reason, 'keyCompromise');
    assert.equal(answer.reasonCode, 1);
    assert.equal((await checker.check([other.cert, root.cert])).status, 'good');
    assert.equal(asked.length, 0, 'REVOCATION_CHECK=off: the inner checker is never asked');
  });
});

describe('seal-key.ts', () => {
  it('seals a PEM key from stdin with KEY_ENCRYPTION_KEY into a block loadIssuingCa opens', async () => {
    const { spawnSync } = await import('node:child_process');
    const { openIssuingKey } = await import('../../src/pki/issuing.ts');
    const kek = randomBytes(32);
    const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const run = spawnSync(process.execPath, ['--conditions=certbound-source', new URL('../../src/enrollment/seal-key.ts', import.meta.url).pathname], {
      input: keyPem, env: { ...process.env, KEY_ENCRYPTION_KEY: kek.toString('base64') },
    });
    assert.equal(run.status, 0, run.stderr.toString());
    const sealed = run.stdout.toString();
    assert.match(sealed, /^-----BEGIN CERTBOUND SEALED PRIVATE KEY-----\n/);
    assert.ok(!sealed.includes(keyPem.split('\n')[1]));
    assert.equal(openIssuingKey(sealed, kek), keyPem);
    const refused = spawnSync(process.execPath, ['--conditions=certbound-source', new URL('../../src/enrollment/seal-key.ts', import.meta.url).pathname], { input: 'not a key', env: { ...process.env, KEY_ENCRYPTION_KEY: kek.toString('base64') } });
    assert.equal(refused.status, 1);
  });
});
