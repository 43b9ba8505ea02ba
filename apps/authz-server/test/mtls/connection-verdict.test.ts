import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { createVerdictCache } from '../../src/mtls/connection-verdict.ts';
import type { RevocationAnswer, RevocationChecker, RevocationMode } from '../../src/mtls/revocation/index.ts';
import { loadTrustStore, type TrustStore } from '../../src/mtls/trust-store.ts';
import { issueCertificate, x5tS256, type IssuedCertificate } from '../../../../test/support/pki.ts';
import type { PresentedCertificate } from '@certbound/cnf-verifier';

/** What @certbound/cnf-verifier hands the server for a connection. */
function presented(leaf: X509Certificate, chain: X509Certificate[] = []): PresentedCertificate {
  return { leaf, chain, source: 'tls', thumbprint: x5tS256(leaf) };
}

/** A trust store that counts chain-building lookups: one validation = at least one lookup. */
function counting(store: TrustStore): { store: TrustStore; lookups: () => number } {
  let lookups = 0;
  return {
    store: { ...store, findIssuers: (cert: X509Certificate) => (lookups++, store.findIssuers(cert)) },
    lookups: () => lookups,
  };
}

describe('verdict cache: one path validation per connection', () => {
  let root: IssuedCertificate;
  let leaf: IssuedCertificate;
  let other: IssuedCertificate;
  before(async () => {
    root = await issueCertificate({ subject: 'CN=Cache Root', ca: true });
    leaf = await issueCertificate({ subject: 'CN=cached-client', issuer: root });
    other = await issueCertificate({ subject: 'CN=other-client', issuer: root });
  });
  const fresh = () => counting(loadTrustStore(root.certPem, 'cache test'));

  it('validates once per TLS socket', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store);
    const socket = {};
    const [first, second] = await Promise.all([cache.verdict(socket, presented(leaf.cert)), cache.verdict(socket, presented(leaf.cert))]);
    assert.equal(first.ok, true);
    assert.equal(second, first);
    assert.equal(await cache.verdict(socket, presented(leaf.cert)), first);
    assert.equal(lookups(), 1);
  });

  it('answers later requests on the same connection without building the certificate key again', async () => {
    const cache = createVerdictCache(fresh().store);
    const socket = {};
    const same = presented(leaf.cert);
    let keyBuilds = 0;
    same.chain = new Proxy(same.chain, { get: (target, name): unknown => (name === 'map' && keyBuilds++, Reflect.get(target, name)) });
    const first = await cache.verdict(socket, same);
    assert.equal(await cache.verdict(socket, same), first);
    assert.equal(await cache.verdict(socket, same), first);
    assert.equal(keyBuilds, 1);
  });

  it('reuses the verdict for the same certificate on another socket (a client that connects per call)', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store);
    const first = await cache.verdict({}, presented(leaf.cert));
    assert.equal(await cache.verdict({}, presented(leaf.cert)), first);
    assert.equal(lookups(), 1);
  });

  it('validates again when renegotiation brings another certificate on the same socket', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store);
    const socket = {};
    await cache.verdict(socket, presented(leaf.cert));
    await cache.verdict(socket, presented(other.cert));
    assert.equal(lookups(), 2);
  });

  it('caches certificates forwarded by a proxy by thumbprint, without a socket', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store);
    const first = await cache.verdict(undefined, presented(leaf.cert));
    assert.equal(await cache.verdict(undefined, presented(leaf.cert)), first);
    assert.equal(lookups(), 1);
    assert.equal(cache.size, 1);
  });

  it('keys the proxy cache by the presented chain too', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store);
    await cache.verdict(undefined, presented(leaf.cert));
    await cache.verdict(undefined, presented(leaf.cert, [root.cert]));
    assert.equal(lookups(), 2);
    assert.equal(cache.size, 2);
  });

  it('keeps at most maxEntries proxy verdicts, evicting the least recently used', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store, { maxEntries: 2 });
    const third = await issueCertificate({ subject: 'CN=third', issuer: root });
    await cache.verdict(undefined, presented(leaf.cert));
    await cache.verdict(undefined, presented(other.cert));
    await cache.verdict(undefined, presented(leaf.cert)); // leaf is now the most recent
    await cache.verdict(undefined, presented(third.cert)); // evicts other
    assert.equal(cache.size, 2);
    assert.equal(lookups(), 3);
    await cache.verdict(undefined, presented(leaf.cert));
    assert.equal(lookups(), 3);
    await cache.verdict(undefined, presented(other.cert));
    assert.equal(lookups(), 4);
  });

  it('forgets a verdict once the leaf has expired, on a socket and from a proxy', async () => {
    let now = Date.now();
    const { store } = fresh();
    const shortLived = await issueCertificate({ subject: 'CN=short', issuer: root, notAfter: new Date(now + 60_000) });
    const cache = createVerdictCache(store, { now: () => now });
    const socket = {};
    assert.equal((await cache.verdict(socket, presented(shortLived.cert))).ok, true);
    assert.equal((await cache.verdict(undefined, presented(shortLived.cert))).ok, true);
    now += 120_000;
    assert.equal((await cache.verdict(socket, presented(shortLived.cert))).ok, false);
    const viaProxy = await cache.verdict(undefined, presented(shortLived.cert));
    assert.equal(viaProxy.ok === false && viaProxy.code, 'expired');
  });

  it('reuses a refusal only briefly', async () => {
    let now = Date.now();
    const stranger = await issueCertificate({ subject: 'CN=stranger' });
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store, { now: () => now, failureTtlMs: 1000 });
    assert.equal((await cache.verdict(undefined, presented(stranger.cert))).ok, false);
    await cache.verdict(undefined, presented(stranger.cert));
    assert.equal(lookups(), 1);
    now += 2000;
    await cache.verdict(undefined, presented(stranger.cert));
    assert.equal(lookups(), 2);
  });

  it('answers garbage without caching it', async () => {
    const cache = createVerdictCache(fresh().store);
    const verdict = await cache.verdict(undefined, { leaf: {} as X509Certificate, chain: [], source: 'tls', thumbprint: 'x' });
    assert.equal(verdict.ok === false && verdict.code, 'malformed');
    assert.equal(cache.size, 0);
  });
});

describe('RFC 5280 §6.3 revocation in the connection verdict', () => {
  let root: IssuedCertificate;
  let leaf: IssuedCertificate;
  before(async () => {
    root = await issueCertificate({ subject: 'CN=Revocation Root', ca: true });
    leaf = await issueCertificate({ subject: 'CN=revocation-client', issuer: root });
  });

  /** A checker that answers `status` and records what it was asked. */
  function checker(mode: RevocationMode, status: RevocationAnswer['status'], validForMs: number, now: () => number) {
    const asked: X509Certificate[][] = [];
    const revocation: RevocationChecker = {
      mode,
      async check(chain) {
        asked.push([...chain]);
        return {
          status, source: status === 'revoked' ? 'ocsp' : 'none', serial: chain[0].serialNumber, subject: 'CN=revocation-client',
          reason: status === 'revoked' ? 'keyCompromise' : undefined, reasonCode: status === 'revoked' ? 1 : undefined,
          validUntil: now() + validForMs, detail: status === 'unknown' ? 'OCSP responder http://127.0.0.1:9/ unreachable' : undefined,
        };
      },
      counts: () => ({}),
      close() {},
    };
    return { revocation, asked };
  }

  it('refuses a revoked certificate, naming serial, source and reason', async () => {
    const { revocation } = checker('soft', 'revoked', 60_000, Date.now);
    const verdict = await createVerdictCache(loadTrustStore(root.certPem, 'r'), { revocation }).verdict({}, presented(leaf.cert));
    assert.equal(verdict.ok === false && verdict.code, 'revoked');
    assert.match(verdict.ok === false ? verdict.reason : '', new RegExp(`^certificate serial ${leaf.cert.serialNumber} \\(CN=revocation-client\\) is revoked: keyCompromise \\(reason code 1\\), according to its OCSP responder$`));
  });

  it('refuses an unknown status in hard mode and allows it in soft mode', async () => {
    const hard = await createVerdictCache(loadTrustStore(root.certPem, 'r'), { revocation: checker('hard', 'unknown', 30_000, Date.now).revocation }).verdict({}, presented(leaf.cert));
    assert.equal(hard.ok === false && hard.code, 'revocation_unknown');
    assert.match(hard.ok === false ? hard.reason : '', /^revocation status unknown for certificate serial \w+ \(CN=revocation-client\): OCSP responder http:\/\/127\.0\.0\.1:9\/ unreachable$/);
    const soft = await createVerdictCache(loadTrustStore(root.certPem, 'r'), { revocation: checker('soft', 'unknown', 30_000, Date.now).revocation }).verdict({}, presented(leaf.cert));
    assert.equal(soft.ok, true);
    assert.equal(soft.ok && soft.revocation?.status, 'unknown');
  });

  it('never asks about a chain that did not validate (no fetch for an untrusted certificate)', async () => {
    const { revocation, asked } = checker('hard', 'good', 60_000, Date.now);
    const stranger = await issueCertificate({ subject: 'CN=stranger' });
    const verdict = await createVerdictCache(loadTrustStore(root.certPem, 'r'), { revocation }).verdict({}, presented(stranger.cert));
    assert.equal(verdict.ok === false && verdict.code, 'untrusted');
    assert.equal(asked.length, 0);
  });

  it('asks about the validated chain, leaf first, and not at all when off', async () => {
    const on = checker('soft', 'good', 60_000, Date.now);
    await createVerdictCache(loadTrustStore(root.certPem, 'r'), { revocation: on.revocation }).verdict({}, presented(leaf.cert));
    assert.deepEqual(on.asked.map((chain) => chain.map((c) => c.subject)), [[leaf.cert.subject, root.cert.subject]]);
    const off = checker('off', 'revoked', 60_000, Date.now);
    assert.equal((await createVerdictCache(loadTrustStore(root.certPem, 'r'), { revocation: off.revocation }).verdict({}, presented(leaf.cert))).ok, true);
    assert.equal(off.asked.length, 0);
  });

  it('does not outlive the revocation answer it rests on, on the same connection', async () => {
    let now = Date.now();
    const { revocation, asked } = checker('soft', 'good', 10_000, () => now);
    const cache = createVerdictCache(loadTrustStore(root.certPem, 'r'), { revocation, now: () => now });
    const socket = {};
    await cache.verdict(socket, presented(leaf.cert));
    now += 5_000;
    await cache.verdict(socket, presented(leaf.cert));
    assert.equal(asked.length, 1);
    now += 6_000;
    await cache.verdict(socket, presented(leaf.cert));
    assert.equal(asked.length, 2);
  });
});
