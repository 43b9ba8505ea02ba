// Delivers one expiry notice to EXPIRY_WEBHOOK_URL: a JSON POST over verified TLS, signed with an
// HMAC-SHA256 header so the receiver knows certbound sent it, retried with exponential back-off a
// bounded number of times. It never throws; the caller records the outcome (expiry-notices.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { deriveKey } from '../keys/derive.ts';

/** HKDF info of the webhook signing key (keys/derive.ts): receivers derive the same key from the KEK. */
export const WEBHOOK_KEY_PURPOSE = 'expiry-webhook-signing-v1';
export const SIGNATURE_HEADER = 'Certbound-Signature';
export const NOTICE_ID_HEADER = 'Certbound-Notice-Id';

export function webhookSigningKey(kek: Buffer): Buffer {
  return deriveKey(kek, WEBHOOK_KEY_PURPOSE);
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` */
export function signatureHeader(key: Buffer, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', key).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * What a receiver does: checks the header against the body, in constant time, and that `t` is
 * within `toleranceSeconds` of `nowSeconds`. Exported for tests and as the reference.
 */
export function verifySignature(key: Buffer, body: string, header: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return false;
  const t = Number(match[1]);
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', key).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2], 'hex'));
}

export interface WebhookOptions {
  url: string;
  /** HMAC key: webhookSigningKey(kek) */
  key: Buffer;
  /** PEM the receiver's certificate must chain to instead of the system store (a private CA) */
  ca?: string;
  /** attempts per delivery; default 3 */
  attempts?: number;
  /** wait before the 2nd attempt, doubled before each next one; default 1 s */
  backoffMs?: number;
  /** deadline of one attempt; default 10 s */
  timeoutMs?: number;
  now?: () => Date;
}

export type DeliveryResult = { ok: true; attempts: number } | { ok: false; attempts: number; error: string };

export interface WebhookSender {
  /** the URL's origin only: the path may hold a secret (a chat webhook's token), so it is never logged */
  readonly origin: string;
  /** attempts of one deliver() call */
  readonly attemptsPerDelivery: number;
  deliver(noticeId: string, payload: Record<string, unknown>, signal?: AbortSignal): Promise<DeliveryResult>;
}

export function createWebhookSender(opts: WebhookOptions): WebhookSender {
  const url = new URL(opts.url);
  if (url.protocol !== 'https:') throw new Error('EXPIRY_WEBHOOK_URL must be an https URL');
  const attempts = opts.attempts ?? 3;
  const backoffMs = opts.backoffMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const now = opts.now ?? (() => new Date());

  /** One POST; resolves to undefined on a 2xx answer, else what went wrong (no URL in it). */
  function post(noticeId: string, body: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (error: string | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        req.destroy();
        resolve(error);
      };
      const onAbort = () => finish('stopped');
      const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
      const t = Math.floor(now().getTime() / 1000);
      // rejectUnauthorized is never turned off (DESIGN.md): the receiver's certificate is verified
      // against the system store, or only against EXPIRY_WEBHOOK_CA_FILE when that is set.
      const req = request(url, {
        method: 'POST',
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'certbound-expiry-notices',
          [SIGNATURE_HEADER]: signatureHeader(opts.key, body, t),
          [NOTICE_ID_HEADER]: noticeId,
        },
      }, (res) => {
        const status = res.statusCode ?? 0;
        // The answer's body means nothing to us: discarded; a refusal hangs up at once, and the
        // deadline bounds a 2xx answer that never ends.
        res.on('data', () => undefined);
        res.on('end', () => finish(status >= 200 && status < 300 ? undefined : `answered HTTP ${status}`));
        res.on('error', () => finish(status >= 200 && status < 300 ? undefined : `answered HTTP ${status}`));
        if (status < 200 || status >= 300) finish(`answered HTTP ${status}`);
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
      if (signal?.aborted) return finish('stopped');
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end(body);
    });
  }

  return {
    origin: url.origin,
    attemptsPerDelivery: attempts,
    async deliver(noticeId, payload, signal) {
      const body = JSON.stringify(payload);
      let error = 'not attempted';
      for (let attempt = 1; attempt <= attempts; attempt++) {
        if (attempt > 1) {
          try {
            await sleep(backoffMs * 2 ** (attempt - 2), undefined, signal ? { signal } : undefined);
          } catch {
            return { ok: false, attempts: attempt - 1, error: 'stopped' };
          }
        }
        const failure = await post(noticeId, body, signal);
        if (failure === undefined) return { ok: true, attempts: attempt };
        error = failure;
        if (failure === 'stopped') return { ok: false, attempts: attempt, error };
      }
      return { ok: false, attempts, error };
    },
  };
}
