// A resumed TLS session (RFC 5077, RFC 8446 §4.6.1) carries no intermediates: the chain its full
// handshake presented is given back to path validation, in this process and through the KvStore.
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { PresentedCertificate } from '@certbound/cnf-verifier';
import { rememberResumedChains } from '../../src/mtls/resumed-chains.ts';
import { createVerdictCache } from '../../src/mtls/connection-verdict.ts';
import { loadTrustStore } from '../../src/mtls/trust-store.ts';
import { createMemoryKv } from '../../src/storage/kv/memory.ts';
import { issueCertificate, x5tS256, type IssuedCertificate } from '../../../../test/support/pki.ts';

const TTL = { ttlSeconds: 7200 };

function presented(leaf: X509Certificate, chain: X509Certificate[] = []): PresentedCertificate {
  return { leaf, chain, source: 'tls', thumbprint: x5tS256(leaf) };
}

describe('the chain a resumed session no longer carries', () => {
  let root: IssuedCertificate;
  let intermediate: IssuedCertificate;
  let leaf: IssuedCertificate;
  before(async () => {
    root = await issueCertificate({ subject: 'CN=resume root', ca: true, pathLength: 1 });
    intermediate = await issueCertificate({ subject: 'CN=resume intermediate', ca: true, pathLength: 0, issuer: root });
    leaf = await issueCertificate({ subject: 'CN=resume leaf', issuer: intermediate });
  });

  // What isTlsSocket (@certbound/cnf-verifier) and the resumption check read of a TLS socket.
  const tlsSocket = (resumed: boolean) => ({ isSessionReused: () => resumed, getPeerX509Certificate: () => undefined });

  it('validates a resumed connection with the intermediates its full handshake presented', async () => {
    const kv = createMemoryKv();
    const verdicts = rememberResumedChains(createVerdictCache(loadTrustStore(root.certPem, 'test')), kv, TTL);
    assert.equal((await verdicts.verdict(tlsSocket(false), presented(leaf.cert, [intermediate.cert]))).ok, true);
    const resumed = await verdicts.verdict(tlsSocket(true), presented(leaf.cert));
    assert.equal(resumed.ok, true);
  });

  it('shares the chain through the KvStore with another process', async () => {
    const kv = createMemoryKv();
    const store = loadTrustStore(root.certPem, 'test');
    const first = rememberResumedChains(createVerdictCache(store), kv, TTL);
    const second = rememberResumedChains(createVerdictCache(store), kv, TTL);
    assert.equal((await first.verdict(tlsSocket(false), presented(leaf.cert, [intermediate.cert]))).ok, true);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal((await second.verdict(tlsSocket(true), presented(leaf.cert))).ok, true);
  });

  it('still refuses a resumed leaf whose chain it never saw', async () => {
    const verdicts = rememberResumedChains(createVerdictCache(loadTrustStore(root.certPem, 'test')), createMemoryKv(), TTL);
    const verdict = await verdicts.verdict(tlsSocket(true), presented(leaf.cert));
    assert.equal(verdict.ok, false);
  });

  it('remembers nothing from a chain that failed validation', async () => {
    const otherRoot = await issueCertificate({ subject: 'CN=resume root', ca: true, pathLength: 1 });
    const kv = createMemoryKv();
    const verdicts = rememberResumedChains(createVerdictCache(loadTrustStore(otherRoot.certPem, 'test')), kv, TTL);
    assert.equal((await verdicts.verdict(tlsSocket(false), presented(leaf.cert, [intermediate.cert]))).ok, false);
    assert.equal(kv.size, 0);
  });
});
