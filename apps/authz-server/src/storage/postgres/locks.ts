// Advisory lock keys. Two-int form (class, id): the class says which job holds the lock, the id
// is hashtext(current_schema()) so separate schemas (one per test suite) never wait on each other
// while every instance of one deployment contends for the same key.

export const LOCK_CLASS = {
  createSchema: 0x63620001,
  migrate: 0x63620002,
  signingKeys: 0x63620003,
  sweepModels: 0x63620004,
} as const;

/** SQL expression for a transaction-level lock on `lockClass` in the current schema. */
export function xactLockSql(lockClass: number): string {
  return `select pg_advisory_xact_lock(${lockClass}, hashtext(current_schema()))`;
}
