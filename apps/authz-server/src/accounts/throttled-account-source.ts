// Any AccountSource behind the login throttle (login-throttle.ts): an attempt is reserved before
// the source sees the password, so a refused one (LoginThrottledError, 429) costs no hash, and its
// outcome is reported afterwards: success resets the counts, failure keeps them, an error (a full
// hashing queue, a database fault) gives the attempt back.
import type { AccountSource } from './account-source.ts';
import type { LoginThrottle } from './login-throttle.ts';

export function withLoginThrottle(source: AccountSource, throttle: LoginThrottle): AccountSource {
  return {
    findAccount: (accountId) => source.findAccount(accountId),
    async authenticate(username, password, attempt) {
      const ticket = await throttle.begin(username, attempt?.address ?? 'unknown');
      let accountId: string | undefined;
      try {
        accountId = await source.authenticate(username, password, attempt);
      } catch (err) {
        await ticket.abandoned();
        throw err;
      }
      await (accountId === undefined ? ticket.failed() : ticket.succeeded());
      return accountId;
    },
  };
}
