// TLS session resumption (RFC 5077, RFC 8446 §4.6.1) shared by every worker and instance: a
// partner that reconnects for each call skips the full handshake, whichever process answers.
//
// Ticket keys are derived, not stored: HKDF-SHA256 of the key-encryption key over the number of
// the current time window, so every process that holds the KEK agrees on them without talking
// to the others, and a key lives no longer than two windows (forward secrecy for TLS 1.2). New
// tickets are sealed under the current window's key; tickets of the current and the previous
// window are accepted (a previous-window ticket is renewed). A ticket lives at most one window,
// so every ticket still valid is covered.
// What a resumed session no longer carries (the client's intermediates) is remembered in
// mtls/resumed-chains.ts.
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { deriveKey } from '../keys/derive.ts';
import type { Server as TlsServer } from 'node:tls';

/** One hour: keys change hourly and a ticket is honoured for at most one hour. */
export const TICKET_WINDOW_SECONDS = 3600;
const PART = 16;

export interface TicketKey {
  /** 48 bytes in Node's `ticketKeys` layout: key name, HMAC-SHA256 key, AES-128 key (16 each). */
  readonly bytes: Buffer;
  readonly name: Buffer;
  readonly hmac: Buffer;
  readonly aes: Buffer;
}

export interface SessionTickets {
  readonly windowSeconds: number;
  /** tls.createServer options: the current ticket key and the session lifetime. */
  serverOptions(): { ticketKeys: Buffer; sessionTimeout: number };
  /** The keys of the window containing `nowMs` and of the one before it. */
  keysAt(nowMs: number): { current: TicketKey; previous: TicketKey };
  /**
   * Makes `server` accept current- and previous-window tickets and keeps its sealing key on the
   * current window (setTicketKeys at every window boundary). Returns a function that stops the
   * rotation timer.
   */
  install(server: TlsServer): () => void;
}

export interface SessionTicketOptions {
  windowSeconds?: number;
  /** clock in ms, for tests */
  now?: () => number;
}

/** Node's ticket-key hook: (name, iv, encrypt) -> [result, hmacKey, aesKey, name?, iv?]. */
type TicketKeyCallback = (name: Buffer, iv: Buffer, encrypt: boolean) => [number, Buffer, Buffer, Buffer?, Buffer?];
interface TicketKeyHook {
  enableTicketKeyCallback(): void;
  onticketkeycallback: TicketKeyCallback;
}

/** OpenSSL ticket callback results: 0 = unknown key (full handshake), 1 = ok, 2 = ok, renew the ticket. */
const TICKET_UNKNOWN = 0;
const TICKET_OK = 1;
const TICKET_RENEW = 2;

export function createSessionTickets(secret: Buffer, options: SessionTicketOptions = {}): SessionTickets {
  const windowSeconds = options.windowSeconds ?? TICKET_WINDOW_SECONDS;
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1) throw new RangeError('windowSeconds must be a positive integer');
  if (secret.length < 32) throw new RangeError('the ticket-key secret must be at least 32 bytes');
  const now = options.now ?? Date.now;
  const windowMs = windowSeconds * 1000;
  const derived = new LRUCache<number, TicketKey>({ max: 4 });

  function keyOf(window: number): TicketKey {
    let key = derived.get(window);
    if (!key) {
      const bytes = deriveKey(secret, `tls-session-ticket-keys-v1:${window}`, 3 * PART);
      key = { bytes, name: bytes.subarray(0, PART), hmac: bytes.subarray(PART, 2 * PART), aes: bytes.subarray(2 * PART) };
      derived.set(window, key);
    }
    return key;
  }

  function keysAt(nowMs: number) {
    const window = Math.floor(nowMs / windowMs);
    return { current: keyOf(window), previous: keyOf(window - 1) };
  }

  const ticketKeyCallback: TicketKeyCallback = (name, _iv, encrypt) => {
    const { current, previous } = keysAt(now());
    if (encrypt) return [TICKET_OK, current.hmac, current.aes, current.name, randomBytes(PART)];
    if (name.equals(current.name)) return [TICKET_OK, current.hmac, current.aes];
    if (name.equals(previous.name)) return [TICKET_RENEW, previous.hmac, previous.aes];
    return [TICKET_UNKNOWN, current.hmac, current.aes];
  };

  return {
    windowSeconds,
    serverOptions: () => ({ ticketKeys: keysAt(now()).current.bytes, sessionTimeout: windowSeconds }),
    keysAt,
    install(server) {
      // Node's public API holds one ticket key; accepting the previous window's tickets needs
      // the ticket-key hook of the server's secure context (what Node's own tests use). Where a
      // Node version lacks it, setTicketKeys below still rotates: tickets then simply stop
      // resuming at a window boundary and the client does one full handshake.
      const context = (server as unknown as { _sharedCreds?: { context?: Partial<TicketKeyHook> } })._sharedCreds?.context;
      if (typeof context?.enableTicketKeyCallback === 'function') {
        context.enableTicketKeyCallback();
        context.onticketkeycallback = ticketKeyCallback;
      }
      let timer: NodeJS.Timeout | undefined;
      const rotate = () => {
        server.setTicketKeys(keysAt(now()).current.bytes);
        timer = setTimeout(rotate, windowMs - (now() % windowMs) + 10);
        timer.unref();
      };
      rotate();
      return () => clearTimeout(timer);
    },
  };
}

/** Session-ticket secret for every worker and instance: derived from the key-encryption key. */
export function sessionTicketsFromKek(kek: Buffer, options: SessionTicketOptions = {}): SessionTickets {
  return createSessionTickets(deriveKey(kek, 'tls-session-tickets-v1'), options);
}
