// SQL for signing_keys: the token signing keys, each private JWK sealed under the KEK by
// keys/signing-keys.ts (which generates, seals and opens them; this module only stores rows).
import type { JWK } from 'jose';
import type { SqlClient } from '../sql.ts';
import { LOCK_CLASS, xactLockSql } from './locks.ts';

/** A signing_keys row as read back (the private JWK sealed under the KEK, the kid as AAD). */
export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_jwk_ciphertext: Uint8Array;
  iv: Uint8Array;
  tag: Uint8Array;
}

export interface SigningKeyInput {
  kid: string;
  alg: string;
  publicJwk: JWK;
  sealed: { ciphertext: Uint8Array; iv: Uint8Array; tag: Uint8Array };
}

/** The active keys, in the order of `algs` (other algorithms last), newest first within one. */
export async function listActiveSigningKeys(sql: SqlClient, algs: readonly string[]): Promise<SigningKeyRow[]> {
  const { rows } = await sql.query<SigningKeyRow>(
    `select kid, alg, public_jwk, private_jwk_ciphertext, iv, tag from signing_keys
     where status = 'active'
     order by array_position($1::text[], alg) nulls last, created_at desc, kid`,
    [[...algs]],
  );
  return rows;
}

/** Inserts an active key; a kid already stored is left as it is. */
export async function insertSigningKey(sql: SqlClient, key: SigningKeyInput): Promise<void> {
  await sql.query(
    `insert into signing_keys (kid, alg, public_jwk, private_jwk_ciphertext, iv, tag, status)
     values ($1, $2, $3::jsonb, $4, $5, $6, 'active')
     on conflict (kid) do nothing`,
    [key.kid, key.alg, JSON.stringify(key.publicJwk), key.sealed.ciphertext, key.sealed.iv, key.sealed.tag],
  );
}

/**
 * Waits for, then holds until `tx` ends, the lock that orders concurrent first starts (call inside
 * sql.transaction): the instances that find keys missing create them one after the other.
 */
export async function lockSigningKeys(tx: SqlClient): Promise<void> {
  await tx.query(xactLockSql(LOCK_CLASS.signingKeys));
}
