// The rules that slow down password guessing at the login page (issue 10), over counters shared
// through Redis (storage/kv/rate-limits.ts) or held in process when embedded:
//
// 1. Per username and address: the first `freeFailures` (5) attempts are free; after that one
//    attempt per lock window, the window doubling with every further failure (1 min, 2, 4, ... up
//    to 1 h). A success resets both. Failures are remembered for 24 h from the first one.
// 2. Per address, across usernames: at most `addressFailuresPerHour` (100) failed attempts in an
//    hour (a fixed window from the first failure).
//
// An attempt is counted when it begins, before any password is checked, and given back when it
// succeeds or is never checked: parallel guesses cannot slip past the count while scrypt runs, and
// a refused attempt costs no hash. Usernames are counted whether or not they exist (the answer
// says nothing new about them) and only as a hash in the counter key. An IPv6 address counts as
// its /64, the smallest block one subscriber usually holds.
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { RateLimits, WindowCounter } from '../storage/kv/rate-limits.ts';
import { LoginThrottledError, ThrottleUnavailableError } from './login-errors.ts';

export interface LoginThrottleOptions {
  /** Attempts per username and address before the lock windows begin (default 5). */
  freeFailures?: number;
  /** The first lock window, in seconds (default 60); each further failure doubles it. */
  firstLockSeconds?: number;
  /** The longest lock window, in seconds (default 3600). */
  maxLockSeconds?: number;
  /** How long consecutive failures are remembered, from the first (default 86400). */
  failureMemorySeconds?: number;
  /** Failed attempts per address per hour, across usernames (default 100). */
  addressFailuresPerHour?: number;
}

/** One reserved attempt: report its outcome exactly once. These never throw. */
export interface LoginTicket {
  succeeded(): Promise<void>;
  failed(): Promise<void>;
  /** The password was never checked (server busy, store error): the attempt is given back. */
  abandoned(): Promise<void>;
}

export interface LoginThrottle {
  /**
   * Reserves one attempt for `username` from `address`, or throws LoginThrottledError (429) or
   * ThrottleUnavailableError (503, the counters cannot be reached) — before any hash is computed.
   */
  begin(username: string, address: string): Promise<LoginTicket>;
}

const HOUR = 3600;

/** The address as counted: IPv4 (also IPv4-mapped IPv6) whole, IPv6 as its /64 prefix. */
export function addressBucket(address: string): string {
  const plain = address.replace(/%.*$/, '').toLowerCase(); // no zone id
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  if (isIPv4(plain) || !isIPv6(plain)) return plain || 'unknown';
  const [head = '', tail = ''] = plain.split('::');
  const left = head ? head.split(':') : [];
  const right = plain.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = plain.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export function createLoginThrottle(limits: RateLimits, opts: LoginThrottleOptions = {}): LoginThrottle {
  const freeFailures = opts.freeFailures ?? 5;
  const firstLock = opts.firstLockSeconds ?? 60;
  const maxLock = opts.maxLockSeconds ?? 3600;
  const memory = opts.failureMemorySeconds ?? 24 * HOUR;
  const perAddress = opts.addressFailuresPerHour ?? 100;
  const failures: WindowCounter = limits.counter('login-failures');
  const locks: WindowCounter = limits.counter('login-lock');
  const addresses: WindowCounter = limits.counter('login-address');

  /** The lock window after the `level`-th attempt past the free ones (0-based): exponential, capped. */
  const lockSeconds = (level: number) => Math.min(firstLock * 2 ** level, maxLock);
  const quietly = async (...steps: Array<Promise<unknown>>) => {
    await Promise.allSettled(steps);
  };

  return {
    async begin(username, address) {
      const bucket = addressBucket(address);
      // Counter keys carry a hash, not the username: Redis holds no list of who was tried.
      const pair = createHash('sha256').update(`${username.toLowerCase()}\n${bucket}`).digest('base64url').slice(0, 32);
      let lockTaken = false;
      try {
        const fromAddress = await addresses.add(bucket, 1, HOUR);
        if (fromAddress.count > perAddress) {
          await addresses.add(bucket, -1, HOUR);
          throw new LoginThrottledError('address', fromAddress.msLeft / 1000);
        }
        const attempt = (await failures.add(pair, 1, memory)).count;
        if (attempt >= freeFailures) {
          // Past the free attempts, one attempt per window: the first to count 1 takes it.
          const lock = await locks.add(pair, 1, lockSeconds(attempt - freeFailures));
          if (lock.count > 1) {
            await Promise.all([failures.add(pair, -1, memory), addresses.add(bucket, -1, HOUR)]);
            throw new LoginThrottledError('account_and_address', lock.msLeft / 1000);
          }
          lockTaken = true;
        }
      } catch (err) {
        if (err instanceof LoginThrottledError) throw err;
        throw new ThrottleUnavailableError(err);
      }
      return {
        succeeded: () => quietly(failures.delete(pair), locks.delete(pair), addresses.add(bucket, -1, HOUR)),
        failed: async () => undefined,
        abandoned: () => quietly(failures.add(pair, -1, memory), addresses.add(bucket, -1, HOUR), lockTaken ? locks.delete(pair) : Promise.resolve()),
      };
    },
  };
}
