// Certificate expiry notices (issue 12 item 4): at start, every EXPIRY_CHECK_INTERVAL_MS and at
// once after an admin change, finds the certificates whose expiry crossed a threshold of
// EXPIRY_NOTICE_DAYS — registered client certificates, certificates clients authenticated with,
// the server certificate and the trust anchors — and gives each crossing one structured log line
// and, with EXPIRY_WEBHOOK_URL, one signed POST. Exactly once per certificate per threshold across
// every instance: a claim row in PostgreSQL is inserted (ON CONFLICT DO NOTHING) before anything
// is said, and only the instance whose insert won logs and sends. A failed delivery keeps its
// claim undelivered and is retried by a later round of any instance, never lost, never repeated
// once delivered.
//
// Which thresholds: a certificate gets the notice of the tightest threshold it has crossed, so a
// certificate first seen 5 days before expiry gets the 7-day notice, not a 30-day one as well;
// one that has expired gets one last notice, threshold 0 ("expired").
import { createHash, X509Certificate } from 'node:crypto';
import type { SqlClient } from '../storage/sql.ts';
import { listExpiringCertificates, type ExpiringCursor } from '../storage/postgres/client-certificates.ts';
import { deleteSeenCertificatesExpiredBefore, listSeenCertificatesExpiring } from '../storage/postgres/seen-certificates.ts';
import {
  claimNotices, leasePendingNotices, markNoticeDelivered, markNoticeFailed, releaseNotices, type NoticeClaim, type NoticeKind, type NoticeRow,
} from '../storage/postgres/expiry-notices.ts';
import { x5tS256 } from '../mtls/thumbprint.ts';
import { issuerDnOf, subjectDnOf } from '../mtls/subject-dn.ts';
import type { WebhookSender } from './expiry-webhook.ts';

export const DAY_MS = 86_400_000;
export const DEFAULT_NOTICE_DAYS: readonly number[] = Object.freeze([30, 7, 1]);
/** A seen certificate that expired longer ago than this is no longer looked at (it had its notice). */
const SEEN_LOOKBACK_MS = 30 * DAY_MS;
/** Rows per query, and the most certificates one round looks at per source. */
const PAGE = 500;
const MAX_PER_ROUND = 20_000;

/** The part of a pino logger the notices use. */
export interface NoticeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Certificates the process holds itself: its server certificate and the client CAs. */
export interface LocalCertificates {
  server: readonly X509Certificate[];
  trustAnchors: readonly X509Certificate[];
}

/** The server certificate (first PEM block of TLS_CERT_FILE) and every certificate of the client CA bundle. */
export function localCertificates(
  serverCertPem: string,
  trustStore: { anchors: readonly X509Certificate[]; intermediates: readonly X509Certificate[] },
): LocalCertificates {
  return { server: [new X509Certificate(serverCertPem)], trustAnchors: [...trustStore.anchors, ...trustStore.intermediates] };
}

export interface ExpiryNoticesOptions {
  sql: SqlClient;
  logger: NoticeLogger;
  /** EXPIRY_NOTICE_DAYS, any order; default 30, 7, 1 */
  thresholds?: readonly number[];
  webhook?: WebhookSender;
  /** read at every round, so reloaded TLS material is looked at too */
  local?: () => LocalCertificates;
  /** EXPIRY_CHECK_INTERVAL_MS; default 60 s */
  intervalMs?: number;
  /** how long a claimer holds an undelivered notice before another instance may retry it; default 5 min */
  leaseMs?: number;
  /** longest wait between two failed delivery rounds of one notice; default 1 h */
  maxRetryDelayMs?: number;
  now?: () => Date;
}

export interface RoundResult {
  /** notices this instance claimed (and logged) in the round */
  claimed: number;
  delivered: number;
  failed: number;
}

export interface ExpiryNotices {
  /** One round: claim and log the new notices, deliver them and the pending ones. */
  runOnce(): Promise<RoundResult>;
  /** A round now and then every intervalMs, on an unref'd timer. */
  start(): void;
  /** A round as soon as possible (after the running one): a certificate was just added. */
  checkSoon(): void;
  /** No more rounds; a running round's deliveries are cut short and it is awaited. */
  stop(): Promise<void>;
}

interface Candidate {
  kind: NoticeKind;
  clientId: string;
  x5t: string;
  subject: string | null;
  issuer: string | null;
  notAfter: Date;
}

/** The tightest threshold `notAfter` has crossed at `now`: 0 once expired, undefined before the loosest. */
export function crossedThreshold(notAfter: Date, now: Date, thresholds: readonly number[]): number | undefined {
  const left = notAfter.getTime() - now.getTime();
  if (left <= 0) return 0;
  let crossed: number | undefined;
  for (const days of thresholds) if (left <= days * DAY_MS && (crossed === undefined || days < crossed)) crossed = days;
  return crossed;
}

/** Stable across instances: a receiver drops a repeated delivery by it. */
export function noticeId(clientId: string, x5t: string, threshold: number): string {
  return createHash('sha256').update(`${clientId}\n${x5t}\n${threshold}`).digest('base64url').slice(0, 22);
}

function payloadOf(c: Candidate, threshold: number, now: Date): Record<string, unknown> {
  return {
    event: 'certificate_expiry_notice',
    notice_id: noticeId(c.clientId, c.x5t, threshold),
    kind: c.kind,
    client_id: c.clientId === '' ? null : c.clientId,
    x5t: c.x5t,
    subject: c.subject,
    issuer: c.issuer,
    not_after: c.notAfter.toISOString(),
    days_left: Math.floor((c.notAfter.getTime() - now.getTime()) / DAY_MS),
    threshold,
    expired: threshold === 0,
  };
}

function describe(p: Record<string, unknown>): string {
  const what = p['kind'] === 'client' ? `client certificate of ${String(p['client_id'])}`
    : p['kind'] === 'server' ? 'server certificate' : 'trust anchor';
  const when = p['expired'] === true ? `expired at ${String(p['not_after'])}` : `expires at ${String(p['not_after'])} (${String(p['days_left'])} day(s) left, threshold ${String(p['threshold'])} days)`;
  return `${what} ${typeof p['subject'] === 'string' ? p['subject'] : ''} (x5t#S256 ${String(p['x5t'])}) ${when}`;
}

function fromLocal(kind: NoticeKind, cert: X509Certificate): Candidate {
  let subject: string;
  let issuer: string | null = null;
  try {
    subject = subjectDnOf(cert);
    issuer = issuerDnOf(cert);
  } catch {
    subject = cert.subject.replaceAll('\n', ', ');
  }
  return { kind, clientId: '', x5t: x5tS256(cert), subject, issuer, notAfter: cert.validToDate };
}

export function createExpiryNotices(opts: ExpiryNoticesOptions): ExpiryNotices {
  const thresholds = [...new Set(opts.thresholds ?? DEFAULT_NOTICE_DAYS)].sort((a, b) => a - b);
  const horizonMs = Math.max(...thresholds) * DAY_MS;
  const intervalMs = opts.intervalMs ?? 60_000;
  const leaseMs = opts.leaseMs ?? 5 * 60_000;
  const maxRetryDelayMs = opts.maxRetryDelayMs ?? 60 * 60_000;
  const now = opts.now ?? (() => new Date());
  const { sql, logger, webhook } = opts;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let again = false;
  let stopped = false;
  let failedRounds = 0;

  async function candidates(at: Date): Promise<Candidate[]> {
    const found = new Map<string, Candidate>();
    const add = (c: Candidate) => {
      const key = `${c.clientId}\n${c.x5t}`;
      if (!found.has(key)) found.set(key, c);
    };
    const before = new Date(at.getTime() + horizonMs);
    let cursor: ExpiringCursor | undefined;
    for (let seen = 0; seen < MAX_PER_ROUND;) {
      const rows = await listExpiringCertificates(sql, { before, after: cursor, limit: PAGE });
      for (const r of rows) add({ kind: 'client', clientId: r.client_id, x5t: r.x5t_s256, subject: r.subject, issuer: r.issuer, notAfter: r.not_after! });
      seen += rows.length;
      const last = rows.at(-1);
      if (rows.length < PAGE || last === undefined) break;
      cursor = { notAfter: last.not_after!.toISOString(), clientId: last.client_id, x5t: last.x5t_s256 };
    }
    // Seen certificates that expired before the lookback had their last notice: forgotten.
    await deleteSeenCertificatesExpiredBefore(sql, new Date(at.getTime() - SEEN_LOOKBACK_MS));
    let seenCursor: { notAfter: Date; clientId: string; x5t: string } | undefined;
    for (let seen = 0; seen < MAX_PER_ROUND;) {
      const rows = await listSeenCertificatesExpiring(sql, { from: new Date(at.getTime() - SEEN_LOOKBACK_MS), to: before, after: seenCursor, limit: PAGE });
      for (const r of rows) add({ kind: 'client', clientId: r.client_id, x5t: r.x5t_s256, subject: r.subject, issuer: r.issuer, notAfter: r.not_after });
      seen += rows.length;
      const last = rows.at(-1);
      if (rows.length < PAGE || last === undefined) break;
      seenCursor = { notAfter: last.not_after, clientId: last.client_id, x5t: last.x5t_s256 };
    }
    let local: LocalCertificates | undefined;
    try {
      local = opts.local?.();
    } catch {
      // TLS material that does not parse as a certificate here is refused by the TLS layer itself.
    }
    for (const cert of local?.server ?? []) if (cert.validToDate <= before) add(fromLocal('server', cert));
    for (const cert of local?.trustAnchors ?? []) if (cert.validToDate <= before) add(fromLocal('trust_anchor', cert));
    return [...found.values()];
  }

  /** Failed rounds of this notice so far, this one included, double the wait before the next. */
  function retryDelay(row: NoticeRow, attemptsNow: number): number {
    const rounds = Math.max(1, Math.ceil((row.attempts + attemptsNow) / webhook!.attemptsPerDelivery));
    return Math.min(intervalMs * 2 ** (rounds - 1), maxRetryDelayMs);
  }

  /** Delivers one notice; on failure, when it may be tried again (undefined when delivered). */
  async function deliver(row: NoticeRow): Promise<Date | undefined> {
    const result = await webhook!.deliver(String(row.payload['notice_id']), row.payload, abort.signal);
    const at = now();
    const key = { client_id: row.client_id, x5t_s256: row.x5t_s256, threshold: row.threshold };
    if (result.ok) {
      await markNoticeDelivered(sql, key, at, result.attempts);
      return undefined;
    }
    const retryAt = result.error === 'stopped' ? at : new Date(at.getTime() + retryDelay(row, result.attempts));
    await markNoticeFailed(sql, key, { retryAt, attempts: result.attempts, error: result.error });
    logger.error({
      event: 'certificate_expiry_webhook_failed', notice_id: row.payload['notice_id'], x5t: row.x5t_s256, threshold: row.threshold,
      webhook: webhook!.origin, attempts: row.attempts + result.attempts, error: result.error, retry_at: retryAt.toISOString(),
    }, `delivering expiry notice ${String(row.payload['notice_id'])} to ${webhook!.origin} failed (${result.error}); retried at ${retryAt.toISOString()}`);
    return retryAt;
  }

  async function runOnce(): Promise<RoundResult> {
    const at = now();
    const found = await candidates(at);
    const claims: NoticeClaim[] = [];
    for (const c of found) {
      const threshold = crossedThreshold(c.notAfter, at, thresholds);
      if (threshold === undefined) continue;
      claims.push({ client_id: c.clientId, x5t_s256: c.x5t, threshold, kind: c.kind, not_after: c.notAfter, payload: payloadOf(c, threshold, at) });
    }
    const leaseUntil = new Date(at.getTime() + leaseMs);
    const mine: NoticeRow[] = [];
    for (let i = 0; i < claims.length; i += PAGE) {
      mine.push(...await claimNotices(sql, claims.slice(i, i + PAGE), { at, leaseUntil, delivered: webhook === undefined }));
    }
    // The one log line per notice, across all instances: only the claimer writes it.
    for (const row of mine) {
      const line = row.payload;
      if (row.threshold === 0) logger.error(line, describe(line));
      else logger.warn(line, describe(line));
    }
    const result: RoundResult = { claimed: mine.length, delivered: 0, failed: 0 };
    if (webhook === undefined) return result;
    const pending = [...mine, ...await leasePendingNotices(sql, { at, leaseUntil, limit: PAGE })];
    // The rows are leased until leaseUntil: past half of it no delivery starts (one takes at most
    // attempts x timeout + back-off, far less), so no other instance takes a row over while this
    // one may still send it. A failed delivery means the receiver is down: the rest of the round's
    // rows are given back untried, to be retried with the same back-off.
    const stopStartingAt = at.getTime() + leaseMs / 2;
    for (let i = 0; i < pending.length; i++) {
      if (abort.signal.aborted || now().getTime() >= stopStartingAt) {
        await releaseNotices(sql, pending.slice(i), now());
        break;
      }
      const retryAt = await deliver(pending[i]);
      if (retryAt === undefined) {
        result.delivered += 1;
        continue;
      }
      result.failed += 1;
      await releaseNotices(sql, pending.slice(i + 1), retryAt);
      break;
    }
    return result;
  }

  async function round(): Promise<void> {
    try {
      await runOnce();
      if (failedRounds > 0) {
        logger.info({ event: 'certificate_expiry_check_recovered', failed_rounds: failedRounds }, `the certificate expiry check works again after ${failedRounds} failed round(s)`);
        failedRounds = 0;
      }
    } catch (err) {
      failedRounds += 1;
      // A store that is down: one line, then silence until it works again.
      if (failedRounds === 1) logger.error({ event: 'certificate_expiry_check_failed', err }, 'the certificate expiry check failed; retried every round, logged again once it works');
    }
  }

  function schedule(ms: number): void {
    if (stopped) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (running !== undefined) {
        again = true;
        return;
      }
      running = round().finally(() => {
        running = undefined;
        if (again) {
          again = false;
          schedule(0);
        } else {
          schedule(intervalMs);
        }
      });
    }, ms);
    timer.unref();
  }

  return {
    runOnce,
    start() {
      schedule(0);
    },
    checkSoon() {
      if (stopped) return;
      if (running !== undefined) again = true;
      else schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      abort.abort();
      await running;
    },
  };
}
