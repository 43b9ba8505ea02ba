/**
 * Stateless DPoP server nonces (RFC 9449 §8, §9): HMAC(secret, window counter). Every instance
 * sharing the secret issues and accepts the same values; the current and the previous window
 * are accepted so a nonce handed out just before a rollover still works.
 */
import { createHmac } from 'node:crypto';
import { sameString } from './thumbprint.ts';

export interface NonceOptions {
  /** At least 32 bytes; share it across instances. */
  secret: string | Uint8Array;
  /** Window length. Default 300 s. */
  windowSeconds?: number;
}

export interface NonceIssuer {
  /** The nonce of the current window. */
  current(nowMs: number): string;
  /** 'current', 'previous' (valid, but send a fresh one), or 'invalid'. */
  check(nonce: unknown, nowMs: number): 'current' | 'previous' | 'invalid';
}

export function createNonceIssuer(options: NonceOptions, optionName = 'dpop.nonce'): NonceIssuer {
  const secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : options.secret;
  if (!(secret instanceof Uint8Array) || secret.byteLength < 32) throw new TypeError(`${optionName}.secret: must be at least 32 bytes`);
  const windowSeconds = options.windowSeconds ?? 300;
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1) throw new TypeError(`${optionName}.windowSeconds: must be a positive integer`);
  const key = Buffer.from(secret);
  // A window's nonce changes once per window, not per request: the last two are kept.
  let recent: Array<[counter: number, nonce: string]> = [];
  const forWindow = (counter: number) => {
    for (const [c, nonce] of recent) if (c === counter) return nonce;
    const nonce = createHmac('sha256', key).update(`dpop-nonce:${counter}`).digest().subarray(0, 24).toString('base64url');
    recent = [[counter, nonce], ...recent.slice(0, 1)];
    return nonce;
  };
  const counter = (nowMs: number) => Math.floor(nowMs / 1000 / windowSeconds);
  return {
    current: (nowMs) => forWindow(counter(nowMs)),
    check(nonce, nowMs) {
      if (typeof nonce !== 'string') return 'invalid';
      const c = counter(nowMs);
      if (sameString(nonce, forWindow(c))) return 'current';
      if (sameString(nonce, forWindow(c - 1))) return 'previous';
      return 'invalid';
    },
  };
}
