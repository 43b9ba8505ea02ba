// A bound on password hashing: scrypt at N = 2^17 holds 128 MiB for the length of one hash, so
// at most `concurrency` run at once, at most `maxWaiting` wait their turn, and anything beyond is
// refused at once (HashingBusyError, answered 503 with Retry-After) instead of piling up memory.
import { HashingBusyError } from './login-errors.ts';

export { HashingBusyError };

export interface HashingQueueOptions {
  /** Hashes computed at once (default 2: 256 MiB at N = 2^17, r = 8). */
  concurrency?: number;
  /** Hashes allowed to wait for a slot (default 32); one more is refused. */
  maxWaiting?: number;
  /** Retry-After of a refusal, in seconds (default 2). */
  retryAfterSeconds?: number;
}

export interface HashingQueue {
  /** Runs `job` when a slot is free; rejects with HashingBusyError when the queue is full. */
  run<T>(job: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly waiting: number;
}

export function createHashingQueue(opts: HashingQueueOptions = {}): HashingQueue {
  const concurrency = opts.concurrency ?? 2;
  const maxWaiting = opts.maxWaiting ?? 32;
  const retryAfterSeconds = opts.retryAfterSeconds ?? 2;
  if (!(Number.isSafeInteger(concurrency) && concurrency > 0 && Number.isSafeInteger(maxWaiting) && maxWaiting >= 0)) {
    throw new RangeError(`hashing queue: concurrency must be >= 1 and maxWaiting >= 0, got ${concurrency} and ${maxWaiting}`);
  }
  let active = 0;
  const waiting: Array<() => void> = [];

  function release(): void {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight to the next job: `active` is unchanged
    else active--;
  }

  return {
    async run(job) {
      if (active >= concurrency) {
        if (waiting.length >= maxWaiting) throw new HashingBusyError(retryAfterSeconds);
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        active++;
      }
      try {
        return await job();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return waiting.length;
    },
  };
}
