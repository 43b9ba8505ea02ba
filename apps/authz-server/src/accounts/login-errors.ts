// Why a sign-in was not even checked: each error knows its HTTP status and when to come back, and
// carries a stable `code` for the log line; none of them says whether the username exists.

export type LoginDeferredCode = 'login_throttled' | 'hashing_busy' | 'throttle_unavailable';

/** The attempt was refused before any password was checked; `status` 429 or 503 with Retry-After. */
export class LoginDeferredError extends Error {
  readonly code: LoginDeferredCode;
  readonly status: 429 | 503;
  /** Whole seconds, at least 1: the Retry-After header. */
  readonly retryAfterSeconds: number;
  constructor(code: LoginDeferredCode, status: 429 | 503, retryAfterSeconds: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/** Which throttle rule refused (login-throttle.ts). */
export type ThrottleRule = 'account_and_address' | 'address';

/** Too many failed attempts: for this username from this address, or from this address overall. */
export class LoginThrottledError extends LoginDeferredError {
  readonly rule: ThrottleRule;
  constructor(rule: ThrottleRule, retryAfterSeconds: number) {
    super('login_throttled', 429, retryAfterSeconds, rule === 'address'
      ? 'too many failed sign-ins from this address'
      : 'too many failed sign-ins for this username from this address');
    this.rule = rule;
  }
}

/** The password-hashing queue is full (hashing-queue.ts). */
export class HashingBusyError extends LoginDeferredError {
  constructor(retryAfterSeconds: number) {
    super('hashing_busy', 503, retryAfterSeconds, 'too many passwords are being checked at once');
  }
}

/** The attempt counters cannot be read (Redis down): no attempt is checked without them. */
export class ThrottleUnavailableError extends LoginDeferredError {
  constructor(cause: unknown) {
    super('throttle_unavailable', 503, 5, 'the sign-in attempt counters are unavailable', { cause });
  }
}
