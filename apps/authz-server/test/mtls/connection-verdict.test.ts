import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { createVerdictCache } from '../../src/mtls/connection-verdict.ts';
import { loadTrustStore, type TrustStore } from '../../src/mtls/trust-store.ts';
import { issueCertificate, type IssuedCertificate } from '../../../../test/support/pki.ts';

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
    const [first, second] = await Promise.all([cache.verdict(socket, leaf.cert), cache.verdict(socket, leaf.cert)]);
    assert.equal(first.ok, true);
    assert.equal(second, first);
    assert.equal(await cache.verdict(socket, leaf.cert), first);
    assert.equal(lookups(), 1);
  });

  it('reuses the verdict for the same certificate on another socket (a client that connects per call)', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store);
    const first = await cache.verdict({}, leaf.cert);
    assert.equal(await cache.verdict({}, leaf.cert), first);
    assert.equal(lookups(), 1);
  });

  it('validates again when renegotiation brings another certificate on the same socket', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store);
    const socket = {};
    await cache.verdict(socket, leaf.cert);
    await cache.verdict(socket, other.cert);
    assert.equal(lookups(), 2);
  });

  it('caches certificates forwarded by a proxy by thumbprint, without a socket', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store);
    const first = await cache.verdict(undefined, leaf.cert);
    assert.equal(await cache.verdict(undefined, leaf.cert), first);
    assert.equal(lookups(), 1);
    assert.equal(cache.size, 1);
  });

  it('keys the proxy cache by the presented chain too', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store);
    await cache.verdict(undefined, leaf.cert);
    await cache.verdict(undefined, leaf.cert, [root.cert]);
    assert.equal(lookups(), 2);
    assert.equal(cache.size, 2);
  });

  it('keeps at most maxEntries proxy verdicts, evicting the least recently used', async () => {
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store, { maxEntries: 2 });
    const third = await issueCertificate({ subject: 'CN=third', issuer: root });
    await cache.verdict(undefined, leaf.cert);
    await cache.verdict(undefined, other.cert);
    await cache.verdict(undefined, leaf.cert); // leaf is now the most recent
    await cache.verdict(undefined, third.cert); // evicts other
    assert.equal(cache.size, 2);
    assert.equal(lookups(), 3);
    await cache.verdict(undefined, leaf.cert);
    assert.equal(lookups(), 3);
    await cache.verdict(undefined, other.cert);
    assert.equal(lookups(), 4);
  });

  it('forgets a verdict once the leaf has expired, on a socket and from a proxy', async () => {
    let now = Date.now();
    const { store } = fresh();
    const shortLived = await issueCertificate({ subject: 'CN=short', issuer: root, notAfter: new Date(now + 60_000) });
    const cache = createVerdictCache(store, { now: () => now });
    const socket = {};
    assert.equal((await cache.verdict(socket, shortLived.cert)).ok, true);
    assert.equal((await cache.verdict(undefined, shortLived.cert)).ok, true);
    now += 120_000;
    assert.equal((await cache.verdict(socket, shortLived.cert)).ok, false);
    const viaProxy = await cache.verdict(undefined, shortLived.cert);
    assert.equal(viaProxy.ok === false && viaProxy.code, 'expired');
  });

  it('reuses a refusal only briefly', async () => {
    let now = Date.now();
    const stranger = await issueCertificate({ subject: 'CN=stranger' });
    const { store, lookups } = fresh();
    const cache = createVerdictCache(store, { now: () => now, failureTtlMs: 1000 });
    assert.equal((await cache.verdict(undefined, stranger.cert)).ok, false);
    await cache.verdict(undefined, stranger.cert);
    assert.equal(lookups(), 1);
    now += 2000;
    await cache.verdict(undefined, stranger.cert);
    assert.equal(lookups(), 2);
  });

  it('answers garbage without caching it', async () => {
    const cache = createVerdictCache(fresh().store);
    const verdict = await cache.verdict(undefined, {} as X509Certificate);
    assert.equal(verdict.ok === false && verdict.code, 'malformed');
    assert.equal(cache.size, 0);
  });
});
