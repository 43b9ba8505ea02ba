// Revocation of certificates certbound issued, as every instance sees it at once: a mark per
// revoked serial in the KV store (Redis when shared), a pub/sub message that makes every
// instance drop its cached connection verdicts and its CRL, and the revocation checker's answer
// for a leaf of the issuing CA taken from those marks instead of a fetch of our own CRL.
import type { X509Certificate } from 'node:crypto';
import type { KvStore } from '../storage/kv/kv.ts';
import { CRL_REASONS, type IssuingCa } from '../pki/issuing.ts';
import type { RevocationAnswer, RevocationChecker } from '../mtls/revocation/index.ts';
import { worstOf } from '../mtls/revocation/answer.ts';
import { describeCert } from '../mtls/trust-store.ts';

export const ISSUED_REVOKED_CHANNEL = 'certbound:issued-certificate-revoked';
/** a good answer about an issued leaf is asked again after this long, even if a message was lost */
const GOOD_FOR_MS = 30_000;

export interface RevocationMarks {
  /**
   * Marks the certificate revoked, by serial (the verdict path) until `notAfter` and by thumbprint
   * (introspection of the tokens bound to it) a day longer, and tells every instance.
   */
  revoke(cert: { serial: string; x5t: string }, reason: string, revokedAt: Date, notAfter: Date): Promise<void>;
  /** The mark of this serial, or undefined. Throws when the store is down. */
  find(serial: string): Promise<{ reason: string; revokedAt: Date } | undefined>;
  /** Is the certificate with this x5t#S256 revoked? */
  thumbprintRevoked(x5t: string): Promise<boolean>;
  /** Runs `onRevoked` on this instance for every revocation, here or on another instance; returns the unsubscribe. */
  subscribe(onRevoked: () => void): Promise<() => Promise<void>>;
}

export function createRevocationMarks(kv: KvStore, opts: { now?: () => number } = {}): RevocationMarks {
  const now = opts.now ?? Date.now;
  const key = (serial: string) => `issued-revoked:${serial.toUpperCase()}`;
  const byThumbprint = (x5t: string) => `issued-revoked-x5t:${x5t}`;
  // an access token bound to the certificate may be issued until notAfter and live a day (the longest access_token_ttl)
  const TOKEN_MARGIN_S = 86_400 + 60;
  const local = new Set<() => void>();
  return {
    async revoke({ serial, x5t }, reason, revokedAt, notAfter) {
      const left = (notAfter.getTime() - now()) / 1000;
      await kv.set(key(serial), JSON.stringify({ reason, at: revokedAt.getTime() }), Math.max(1, left + 60));
      await kv.set(byThumbprint(x5t), '1', Math.max(1, left + TOKEN_MARGIN_S));
      for (const listener of local) listener();
      await kv.publish?.(ISSUED_REVOKED_CHANNEL, serial);
    },
    async find(serial) {
      const value = await kv.get(key(serial));
      if (value === undefined) return undefined;
      const parsed = JSON.parse(value) as { reason: string; at: number };
      return { reason: parsed.reason, revokedAt: new Date(parsed.at) };
    },
    async thumbprintRevoked(x5t) {
      return (await kv.get(byThumbprint(x5t))) !== undefined;
    },
    async subscribe(onRevoked) {
      local.add(onRevoked);
      const remote = kv.subscribe === undefined ? async () => undefined : await kv.subscribe(ISSUED_REVOKED_CHANNEL, () => onRevoked());
      return async () => {
        local.delete(onRevoked);
        await remote();
      };
    },
  };
}

/**
 * `inner` with the answer for leaves of the issuing CA taken from the marks (the rest of their
 * chain is still asked of `inner`). With REVOCATION_CHECK=off the marks are still consulted:
 * a certificate an admin revoked here is always refused.
 */
export function withIssuedRevocations(inner: RevocationChecker, ca: IssuingCa, marks: RevocationMarks, now: () => number = Date.now): RevocationChecker {
  const issuedHere = (chain: readonly X509Certificate[]) => chain.length >= 2 && chain[1].fingerprint256 === ca.cert.fingerprint256;
  const noneAbout = (cert: X509Certificate): RevocationAnswer => ({
    status: 'good', source: 'none', serial: cert.serialNumber, subject: describeCert(cert), validUntil: now() + 3_600_000, detail: 'REVOCATION_CHECK=off',
  });
  return {
    mode: inner.mode === 'off' ? 'soft' : inner.mode,
    counts: () => inner.counts(),
    close: () => inner.close(),
    async check(chain) {
      if (!issuedHere(chain)) return inner.mode === 'off' ? noneAbout(chain[0]) : inner.check(chain);
      const leaf = chain[0];
      const about = { serial: leaf.serialNumber, subject: describeCert(leaf) };
      let own: RevocationAnswer;
      try {
        const mark = await marks.find(leaf.serialNumber);
        own = mark === undefined
          ? { status: 'good', source: 'crl', ...about, validUntil: now() + GOOD_FOR_MS }
          : { status: 'revoked', source: 'crl', ...about, reason: mark.reason, reasonCode: CRL_REASONS[mark.reason] ?? 0, revokedAt: mark.revokedAt, validUntil: leaf.validToDate.getTime() };
      } catch (err) {
        own = { status: 'unknown', source: 'crl', ...about, validUntil: now() + 5_000, detail: `the revocation store did not answer (${(err as Error).message})` };
      }
      if (inner.mode === 'off' || chain.length < 3) return own;
      return worstOf([own, await inner.check(chain.slice(1))]);
    },
  };
}
