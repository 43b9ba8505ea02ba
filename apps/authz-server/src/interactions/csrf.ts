// Cross-site request forgery defence for the interaction forms, in three layers:
// 1. oidc-provider's interaction cookie is SameSite=Lax and scoped to /interaction/<uid>, so a
//    cross-site POST arrives without it and finds no interaction;
// 2. a browser's Origin (or Sec-Fetch-Site) must name this server;
// 3. every form carries a token bound to the interaction, HMAC(key derived from the cookie
//    keys, uid), compared in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../keys/derive.ts';
import type { IncomingMessage } from 'node:http';

export interface CsrfGuard {
  token(uid: string): string;
  /** Undefined when the submission may proceed, otherwise why not. */
  refusal(req: IncomingMessage, uid: string, submitted: string | undefined): string | undefined;
}

export function createCsrfGuard(cookieKey: string, issuer: string): CsrfGuard {
  const key = deriveKey(Buffer.from(cookieKey, 'utf8'), 'interaction-csrf-v1');
  const origin = new URL(issuer).origin;
  const token = (uid: string) => createHmac('sha256', key).update(uid).digest('base64url');
  return {
    token,
    refusal(req, uid, submitted) {
      const from = req.headers.origin;
      if (from !== undefined && from !== origin) return `form posted from another origin (${String(from).slice(0, 100)})`;
      if (req.headers['sec-fetch-site'] === 'cross-site') return 'form posted from another site';
      const expected = Buffer.from(token(uid));
      const got = Buffer.from(submitted ?? '');
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) return 'form token missing or wrong';
      return undefined;
    },
  };
}
