// RFC 5280 §5 / §6.3 CRLs through createRevocationChecker: distribution points served over
// loopback HTTP and CLIENT_CRL_FILE, all made by `openssl ca -gencrl`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMemoryKv } from '../../../src/storage/kv/memory.ts';
import { createRevocationChecker, describeRevocation, type RevocationCheckerOptions } from '../../../src/mtls/revocation/index.ts';
import { closedPort, createFixture, type Fixture } from './fixture.ts';

let pki: Fixture;
let good: X509Certificate;
let revoked: X509Certificate;
let intermediate: X509Certificate;
let crl: Buffer;

const checker = (options: Partial<RevocationCheckerOptions> = {}) => createRevocationChecker({ mode: 'soft', ...options });
const requests = () => pki.hits.get('/ca.crl') ?? 0;

before(async () => {
  pki = await createFixture();
  const crlUrls = [`${pki.base}/ca.crl`];
  good = await pki.issue('client-good', { crl: crlUrls });
  revoked = await pki.issue('client-revoked', { crl: crlUrls });
  intermediate = await pki.issue('Issuing CA', { crl: crlUrls, ca: true });
  await pki.revoke(revoked, 'keyCompromise');
  crl = await pki.gencrl();
  pki.crlDer = crl;
});
after(() => pki.dispose());

describe('RFC 5280 CRL distribution points', () => {
  it('answers good for a certificate absent from a current CRL signed by its issuer', async () => {
    const answer = await checker().check([good, pki.ca]);
    assert.equal(answer.status, 'good');
    assert.equal(answer.source, 'crl');
    assert.ok(answer.validUntil <= Date.now() + 3_600_000);
  });

  it('answers revoked with serial, reason and source', async () => {
    const answer = await checker().check([revoked, pki.ca]);
    assert.equal(answer.status, 'revoked');
    assert.equal(answer.source, 'crl');
    assert.equal(answer.serial, revoked.serialNumber);
    assert.equal(answer.reason, 'keyCompromise');
    assert.equal(answer.reasonCode, 1);
    assert.match(describeRevocation(answer), /is revoked since .+: keyCompromise \(reason code 1\), according to its CRL$/);
  });

  it('checks every certificate of the chain but the anchor, and answers for the worst', async () => {
    const below = await pki.issue('client-below', { issuer: intermediate });
    const before = await checker().check([below, intermediate, pki.ca]);
    assert.equal(before.status, 'good');
    assert.equal(before.serial, below.serialNumber, 'a good chain is reported by its leaf');

    await pki.revoke(intermediate, 'cACompromise');
    pki.crlDer = await pki.gencrl();
    const answer = await checker().check([below, intermediate, pki.ca]);
    pki.crlDer = crl;
    assert.equal(answer.status, 'revoked');
    assert.equal(answer.serial, intermediate.serialNumber);
    assert.equal(answer.subject, 'CN=Issuing CA');
    assert.equal(answer.reason, 'cACompromise');
  });

  it('refuses a CRL with the issuer\'s name signed by another key', async () => {
    pki.crlDer = await pki.gencrl({ signer: 'impostor' });
    const answer = await checker().check([revoked, pki.ca]);
    pki.crlDer = crl;
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /^CRL from http:\/\/127\.0\.0\.1:\d+\/ca\.crl refused: it signature \(ecdsa-with-SHA256\) does not verify with the key of CN=Test CA,O=certbound test$/);
  });

  it('refuses a CRL that names another issuer', async () => {
    const answer = await checker().check([revoked, pki.unrelatedCa]);
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /refused: it is not issued by CN=Unrelated CA,O=elsewhere \(issuer name differs\)$/);
  });

  it('refuses a delta CRL explicitly (RFC 5280 §5.2.4)', async () => {
    pki.crlDer = await pki.gencrl({ exts: 'crl_delta' });
    const answer = await checker().check([revoked, pki.ca]);
    pki.crlDer = crl;
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /refused: it is a delta CRL \(RFC 5280 §5\.2\.4\); only complete CRLs are used$/);
  });

  it('refuses an indirect CRL explicitly (RFC 5280 §5.2.5)', async () => {
    pki.crlDer = await pki.gencrl({ exts: 'crl_indirect' });
    const answer = await checker().check([good, pki.ca]);
    pki.crlDer = crl;
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /refused: it is an indirect CRL \(RFC 5280 §5\.2\.5\), which is not supported$/);
  });

  it('refuses a CRL whose nextUpdate has passed', async () => {
    const answer = await checker({ now: () => Date.now() + 2 * 86_400_000 }).check([good, pki.ca]);
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /refused: it is stale: nextUpdate .+ has passed$/);
  });

  it('answers unknown when the distribution point is unreachable', async () => {
    const down = await pki.issue('client-down', { crl: [`http://127.0.0.1:${await closedPort()}/ca.crl`] });
    const answer = await checker().check([down, pki.ca]);
    assert.equal(answer.status, 'unknown');
    assert.match(answer.detail!, /^CRL distribution point http:\/\/127\.0\.0\.1:\d+\/ca\.crl unreachable \(ECONNREFUSED\)$/);
  });

  it('falls back to the CRL when the OCSP responder cannot answer', async () => {
    const both = await pki.issue('client-both', { ocsp: [`http://127.0.0.1:${await closedPort()}/ocsp`], crl: [`${pki.base}/ca.crl`] });
    const answer = await checker().check([both, pki.ca]);
    assert.equal(answer.status, 'good');
    assert.equal(answer.source, 'crl');
    assert.ok(answer.validUntil <= Date.now() + 30_000, 'bounded by the OCSP retry window');
  });

  it('fetches a CRL once for concurrent checks, then serves it from the cache', async () => {
    const before = requests();
    const c = checker();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => c.check([i % 2 ? good : revoked, pki.ca])));
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set(['good', 'revoked']));
    assert.equal(requests() - before, 1);
    await c.check([good, pki.ca]);
    assert.equal(requests() - before, 1);
  });

  it('shares a CRL between instances through the key-value store', async () => {
    const kv = createMemoryKv();
    await checker({ kv }).check([good, pki.ca]);
    const before = requests();
    const second = checker({ kv });
    assert.equal((await second.check([revoked, pki.ca])).status, 'revoked');
    assert.equal(requests(), before);
    assert.equal(second.counts()['crl:store-hit'], 1);
  });
});

describe('CLIENT_CRL_FILE', () => {
  it('refuses a certificate revoked in the file even when its own sources say good', async () => {
    const bare = await pki.issue('client-file');
    const file = join(pki.dir, 'clients.crl.pem');
    await writeFile(file, pki.pemOf(await pki.gencrl()));
    let now = Date.now();
    const c = checker({ crlFile: file, now: () => now });
    const before = await c.check([bare, pki.ca]);
    assert.equal(before.status, 'good');
    assert.equal(before.source, 'crl-file');
    assert.ok(before.validUntil <= now + 30_000, 'an answer resting on the file is re-asked soon');

    // Revoked at run time: the file is rewritten and picked up once its mtime is looked at again.
    await pki.revoke(bare, 'affiliationChanged');
    await writeFile(file, pki.pemOf(await pki.gencrl()));
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    now += 1500;
    const afterChange = await c.check([bare, pki.ca]);
    assert.equal(afterChange.status, 'revoked');
    assert.equal(afterChange.source, 'crl-file');
    assert.equal(afterChange.reason, 'affiliationChanged');
    assert.equal(afterChange.reasonCode, 3);
    assert.match(describeRevocation(afterChange), /according to CLIENT_CRL_FILE$/);
  });

  it('a revoked entry in the file wins over a good distribution point, with no fetch', async () => {
    const file = join(pki.dir, 'revoked.crl.pem');
    await writeFile(file, pki.pemOf(crl));
    pki.crlDer = await pki.gencrl({ signer: 'impostor' });
    const before = requests();
    const answer = await checker({ crlFile: file }).check([revoked, pki.ca]);
    pki.crlDer = crl;
    assert.equal(answer.status, 'revoked');
    assert.equal(answer.source, 'crl-file');
    assert.equal(requests(), before);
  });

  it('answers unknown, naming the variable, when the file cannot be read', async () => {
    const bare = await pki.issue('client-nofile');
    const answer = await checker({ crlFile: join(pki.dir, 'missing.pem') }).check([bare, pki.ca]);
    assert.equal(answer.status, 'unknown');
    assert.equal(answer.source, 'crl-file');
    assert.equal(answer.detail, `CLIENT_CRL_FILE ${join(pki.dir, 'missing.pem')} cannot be read (ENOENT)`);
  });
});
