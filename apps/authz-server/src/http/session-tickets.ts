// TLS session resumption (RFC 5077, RFC 8446 §4.6.1) shared by every worker and instance: a
// partner that reconnects for each call skips the full handshake, whichever process answers.
//
// Ticket keys are derived, not stored: HKDF-SHA256 of the key-encryption key over the number of
// the current time window, so every process that holds the KEK agrees on them without talking
// to the others, and a key lives no longer than two windows (forward secrecy for TLS 1.2). New
// tickets are sealed under the current window's key; tickets of the current and the previous
// window are accepted (a previous-window ticket is renewed). A ticket lives at most one window,
// so every ticket still valid is covered.
//
// A resumed session carries the client's leaf certificate but not the intermediates it sent in
// the full handshake (OpenSSL keeps only the peer certificate in the session), so the chain a
// client presented is remembered by leaf thumbprint — in this process and in the KvStore, which
// every worker shares — and offered again to path validation when that client resumes.
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { deriveKey } from '../keys/derive.ts';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { KvStore } from '../storage/kv.ts';
import type { VerdictCache } from '../oauth/client-certificate.ts';

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
  const derived = new Map<number, TicketKey>();

  function keyOf(window: number): TicketKey {
    let key = derived.get(window);
    if (!key) {
      const bytes = deriveKey(secret, `tls-session-ticket-keys-v1:${window}`, 3 * PART);
      key = { bytes, name: bytes.subarray(0, PART), hmac: bytes.subarray(PART, 2 * PART), aes: bytes.subarray(2 * PART) };
      if (derived.size >= 4) derived.delete(derived.keys().next().value!);
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

export interface ChainMemoryOptions {
  /** how long a remembered chain is kept after its last use; default two ticket windows */
  ttlSeconds?: number;
  /** entries kept in this process; default 10 000 */
  maxEntries?: number;
  now?: () => number;
}

interface Remembered {
  chain: X509Certificate[];
  /** when the KvStore copy was last written (ms) */
  storedAt: number;
}

function isTlsSocket(socket: unknown): socket is TLSSocket {
  return typeof (socket as TLSSocket | null)?.isSessionReused === 'function';
}

const thumbprint = (cert: X509Certificate) => createHash('sha256').update(cert.raw).digest('base64url');

/**
 * Wraps the per-connection verdict cache: after a full handshake whose presented chain validated,
 * the intermediates are remembered under the leaf's thumbprint; a resumed connection that
 * presents none gets them back. Only intermediates are stored, never trust: path validation
 * still checks every signature up to a configured client CA.
 */
export function rememberResumedChains(verdicts: VerdictCache, kv: KvStore, options: ChainMemoryOptions = {}): VerdictCache {
  const ttlSeconds = options.ttlSeconds ?? 2 * TICKET_WINDOW_SECONDS;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const local = new Map<string, Remembered>();
  const kvKey = (leaf: string) => `tls-resumption-chain:${leaf}`;

  function keep(leaf: string, entry: Remembered): void {
    local.delete(leaf);
    local.set(leaf, entry);
    if (local.size > maxEntries) local.delete(local.keys().next().value!);
  }

  function store(leaf: string, entry: Remembered): void {
    entry.storedAt = now();
    const value = JSON.stringify(entry.chain.map((c) => c.raw.toString('base64')));
    // Best effort: a failed write only means a later resumption on another worker revalidates
    // without the intermediates and the client is asked to reconnect with a full handshake.
    kv.set(kvKey(leaf), value, ttlSeconds).catch(() => undefined);
  }

  async function recall(leaf: string): Promise<X509Certificate[]> {
    let entry = local.get(leaf);
    if (!entry) {
      const stored = await kv.get(kvKey(leaf)).catch(() => undefined);
      if (stored === undefined) return [];
      try {
        entry = { chain: (JSON.parse(stored) as string[]).map((der) => new X509Certificate(Buffer.from(der, 'base64'))), storedAt: now() };
      } catch {
        return [];
      }
    }
    keep(leaf, entry);
    // Still in use: keep the shared copy alive as long as the client keeps resuming.
    if (now() - entry.storedAt > (ttlSeconds * 1000) / 4) store(leaf, entry);
    return entry.chain;
  }

  return {
    async verdict(socket, leaf, presented) {
      if (!isTlsSocket(socket)) return verdicts.verdict(socket, leaf, presented);
      if (socket.isSessionReused() && (!presented || presented.length === 0)) {
        // Most leaves chain to a stored CA on their own: the remembered intermediates (a KvStore
        // read on a cold worker) are fetched only when the leaf alone does not validate.
        const alone = await verdicts.verdict(socket, leaf, presented);
        if (alone.ok) return alone;
        const chain = await recall(thumbprint(leaf));
        return chain.length > 0 ? verdicts.verdict(socket, leaf, chain) : alone;
      }
      const verdict = await verdicts.verdict(socket, leaf, presented);
      if (verdict.ok && presented && presented.length > 0) {
        const key = thumbprint(leaf);
        const known = local.get(key);
        const same = known && known.chain.length === presented.length && known.chain.every((c, i) => c.raw.equals(presented[i]!.raw));
        if (!same) {
          const entry = { chain: presented, storedAt: 0 };
          keep(key, entry);
          store(key, entry);
        }
      }
      return verdict;
    },
  };
}
