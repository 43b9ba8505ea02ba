// Password hashing with node:crypto scrypt (RFC 7914). The stored string carries its own
// parameters and salt, `scrypt$N$r$p$salt$hash` (base64url), so the cost can be raised without
// invalidating existing hashes: a hash made at N = 2^15 (before issue 10) still verifies, and
// `needsRehash` tells the caller to store a new one at the current cost. Every scrypt runs through
// one bounded queue per process (hashing-queue.ts): a flood of logins gets 503, not OOM.
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHashingQueue, type HashingQueue } from './hashing-queue.ts';

export { HashingBusyError } from './hashing-queue.ts';

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

const KEY_LENGTH = 32;
/** OWASP Password Storage Cheat Sheet: N = 2^17, r = 8, p = 1 — 128 MiB per hash. */
export const DEFAULT_COST: Readonly<ScryptCost> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
/** Longer inputs are refused before hashing: a megabyte "password" is an attack, not a secret. */
export const MAX_PASSWORD_LENGTH = 1024;

/** Bytes scrypt needs: 128 * N * r for V plus 128 * r * p for B, with room (Node's default is 32 MiB). */
const maxmem = ({ N, r, p }: ScryptCost) => 2 * 128 * r * (N + p);

function scrypt(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: maxmem(cost) };
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

interface ParsedHash {
  cost: ScryptCost;
  salt: Buffer;
  hash: Buffer;
}

function parse(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || N > 2 ** 20 || r > 32 || p > 16) return undefined;
  if (N < 2 || (N & (N - 1)) !== 0) return undefined; // RFC 7914 §2: N is a power of 2 greater than 1
  return { cost: { N, r, p }, salt: Buffer.from(parts[4], 'base64url'), hash: Buffer.from(parts[5], 'base64url') };
}

const work = (cost: ScryptCost) => cost.N * cost.r * cost.p;

export interface PasswordHasher {
  /** A new stored hash at the hasher's cost; HashingBusyError when the queue is full. */
  hash(password: string): Promise<string>;
  /**
   * True when `password` matches `stored`. `stored` undefined (unknown user) still costs one
   * scrypt at the current cost, and a hash at a lower cost is padded to about the time of one at
   * the current cost, so the answer time says nothing about whether the username exists.
   * HashingBusyError when the queue is full.
   */
  verify(password: string, stored: string | undefined): Promise<boolean>;
  /** True when `stored` was made with other parameters than the current ones. */
  needsRehash(stored: string): boolean;
}

export interface PasswordHasherOptions {
  cost?: ScryptCost;
  queue?: HashingQueue;
  /** clock (ms) and wait used for the padding of cheaper hashes; for tests */
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
}

export function createPasswordHasher(opts: PasswordHasherOptions = {}): PasswordHasher {
  const cost: ScryptCost = { ...(opts.cost ?? DEFAULT_COST) };
  const queue = opts.queue ?? createHashingQueue();
  const { now = () => performance.now(), sleep: wait = sleep } = opts;
  // Verified against when the username is unknown: random, so nothing can match it, and it needs
  // no scrypt to make (the verification still computes one at the current cost).
  const decoy = `scrypt$${cost.N}$${cost.r}$${cost.p}$${randomBytes(16).toString('base64url')}$${randomBytes(KEY_LENGTH).toString('base64url')}`;

  return {
    async hash(password) {
      if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
        throw new RangeError(`password must be 1 to ${MAX_PASSWORD_LENGTH} characters`);
      }
      const salt = randomBytes(16);
      const hash = await queue.run(() => scrypt(password, salt, cost));
      return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
    },
    async verify(password, stored) {
      const parsed = parse(stored ?? decoy);
      if (!parsed || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) return false;
      let took = 0;
      const candidate = await queue.run(async () => {
        const started = now();
        const derived = await scrypt(password, parsed.salt, parsed.cost);
        took = now() - started; // the hash alone, not the wait for a queue slot
        return derived;
      });
      // scrypt's time is linear in N * r * p: a cheaper (older) hash waits out the difference,
      // outside the queue (a sleep holds no memory).
      const ratio = work(cost) / work(parsed.cost);
      if (ratio > 1) await wait(took * (ratio - 1));
      return stored !== undefined && candidate.length === parsed.hash.length && timingSafeEqual(candidate, parsed.hash);
    },
    needsRehash(stored) {
      const parsed = parse(stored);
      return !parsed || parsed.cost.N !== cost.N || parsed.cost.r !== cost.r || parsed.cost.p !== cost.p;
    },
  };
}

/** The process's hasher: one queue for every password hashed or checked in this process. */
export const passwords: PasswordHasher = createPasswordHasher();

export const hashPassword = (password: string): Promise<string> => passwords.hash(password);
export const verifyPassword = (password: string, stored: string | undefined): Promise<boolean> => passwords.verify(password, stored);
