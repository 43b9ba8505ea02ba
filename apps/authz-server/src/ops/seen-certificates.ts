// Records the certificate a client authenticated with when a token is issued to it, so its expiry
// is noticed (expiry-notices.ts) even when the client never registered it (tls_client_auth by
// subject). At most one write per client and certificate per process per hour, off the request's
// path: a token request never waits for it and never fails because of it.
import type { X509Certificate } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
import type { SqlClient } from '../storage/sql.ts';
import { recordSeenCertificate } from '../storage/postgres/seen-certificates.ts';
import { issuerDnOf, subjectDnOf } from '../mtls/subject-dn.ts';
import { certificateState } from '../oidc/client-certificate.ts';
import type { NoticeLogger } from './expiry-notices.ts';
import { CERTIFICATE_AUTH_METHODS } from '../oidc/vocabulary.ts';

export interface SeenCertificateRecorder {
  /** Notes that `clientId` authenticated with `cert`; written unless written within the hour. */
  record(clientId: string, cert: X509Certificate, x5t: string): void;
  /** Resolves when the writes started so far have ended (tests, shutdown). */
  settled(): Promise<void>;
}

export interface SeenCertificateOptions {
  sql: SqlClient;
  logger: NoticeLogger;
  /** default 1 h */
  minIntervalMs?: number;
  /** certificates remembered as recently written; default 10 000 (the oldest is forgotten first) */
  maxEntries?: number;
  now?: () => Date;
}

export function createSeenCertificateRecorder(opts: SeenCertificateOptions): SeenCertificateRecorder {
  const minIntervalMs = opts.minIntervalMs ?? 3_600_000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const now = opts.now ?? (() => new Date());
  // Recency is the write: peek() reads without refreshing, set() makes the entry the newest.
  const written = new LRUCache<string, number>({ max: maxEntries });
  const inFlight = new Set<Promise<void>>();
  let failing = false;

  return {
    record(clientId, cert, x5t) {
      const key = `${clientId}\n${x5t}`;
      const at = now();
      const last = written.peek(key);
      if (last !== undefined && at.getTime() - last < minIntervalMs) return;
      written.set(key, at.getTime());
      let subject: string | null = null;
      let issuer: string | null = null;
      try {
        subject = subjectDnOf(cert);
        issuer = issuerDnOf(cert);
      } catch {
        // A name certbound cannot render still authenticated (a pinned self-signed certificate): keep the row without it.
      }
      const write = recordSeenCertificate(opts.sql, { client_id: clientId, x5t_s256: x5t, subject, issuer, not_after: cert.validToDate }, at)
        .then(() => {
          if (failing) opts.logger.info({ event: 'seen_certificate_write_recovered' }, 'recording certificates seen at authentication works again');
          failing = false;
        }, (err: unknown) => {
          written.delete(key); // tried again at its next token
          if (!failing) opts.logger.error({ event: 'seen_certificate_write_failed', err }, 'recording a certificate seen at authentication failed; logged again only once it works');
          failing = true;
        })
        .finally(() => inFlight.delete(write));
      inFlight.add(write);
    },
    async settled() {
      await Promise.all([...inFlight]);
    },
  };
}

/** Hooks the recorder to oidc-provider's grant.success: a token was issued at the token endpoint. */
export function recordCertificatesOnGrant(provider: Provider, recorder: SeenCertificateRecorder): void {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const client = ctx.oidc.client;
    const presented = certificateState(ctx)?.presented;
    if (client === undefined || presented === undefined || !CERTIFICATE_AUTH_METHODS.has(client.clientAuthMethod ?? '')) return;
    recorder.record(client.clientId, presented.leaf, presented.thumbprint);
  });
}
