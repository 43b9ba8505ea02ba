// Token signing keys: created on first start, stored in signing_keys (storage/postgres/
// signing-keys.ts) with the private JWK sealed under the KEK, and handed to oidc-provider as its
// `jwks` option. Every instance of a deployment signs with the same keys, so the first instance
// to start creates them and the rest read them.
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { SqlClient } from '../storage/sql.ts';
import { insertSigningKey, listActiveSigningKeys, lockSigningKeys, type SigningKeyRow } from '../storage/postgres/signing-keys.ts';
import { KeyEncryptionKeyError } from './kek.ts';
import { open, seal } from './seal.ts';
import { SIGNING_ALGS, publicJwkMembers, type SigningAlg } from '../oidc/vocabulary.ts';

export interface SigningKeySet {
  /** Private JWKs (kid, alg, use: 'sig'), ES256 first: oidc-provider's `jwks` option. */
  jwks: { keys: JWK[] };
}

const generate = promisify(generateKeyPair);

/**
 * Reads the active signing keys, creating one per algorithm in SIGNING_ALGS that has none.
 * Concurrent first starts are ordered by an advisory lock, so they end with one set of keys.
 */
export async function loadOrCreateSigningKeys(sql: SqlClient, kek: Buffer): Promise<SigningKeySet> {
  let rows = await selectActive(sql);
  if (missingAlgs(rows).length > 0) {
    rows = await sql.transaction(async (tx) => {
      await lockSigningKeys(tx);
      // Another instance may have created them while this one waited for the lock.
      for (const alg of missingAlgs(await selectActive(tx))) {
        await insertKey(tx, kek, await createKey(alg));
      }
      return selectActive(tx);
    });
  }
  const keys = await Promise.all(rows.map((row) => decryptRow(row, kek)));
  return { jwks: { keys } };
}

function missingAlgs(rows: SigningKeyRow[]): SigningAlg[] {
  return SIGNING_ALGS.filter((alg) => !rows.some((row) => row.alg === alg));
}

function selectActive(sql: SqlClient): Promise<SigningKeyRow[]> {
  return listActiveSigningKeys(sql, SIGNING_ALGS);
}

interface NewKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: JWK;
  privateJwk: JWK;
}

async function createKey(alg: SigningAlg): Promise<NewKey> {
  const { publicKey, privateKey } = await generateFor(alg);
  const publicMembers = publicKey.export({ format: 'jwk' }) as JWK;
  // RFC 7638 thumbprint of the public key: stable, collision-free, derivable by any verifier.
  const kid = await calculateJwkThumbprint(publicMembers, 'sha256');
  const meta = { kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    publicJwk: { ...publicMembers, ...meta },
    privateJwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), ...meta },
  };
}

function generateFor(alg: SigningAlg): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  switch (alg) {
    case 'ES256':
      return generate('ec', { namedCurve: 'P-256' });
    case 'PS256':
      return generate('rsa', { modulusLength: 2048 });
    case 'EdDSA':
      return generate('ed25519');
  }
}

async function insertKey(sql: SqlClient, kek: Buffer, key: NewKey): Promise<void> {
  const sealed = seal(kek, Buffer.from(JSON.stringify(key.privateJwk), 'utf8'), key.kid);
  await insertSigningKey(sql, { kid: key.kid, alg: key.alg, publicJwk: key.publicJwk, sealed });
}

async function decryptRow(row: SigningKeyRow, kek: Buffer): Promise<JWK> {
  let plaintext: Buffer;
  try {
    plaintext = open(
      kek,
      { ciphertext: Buffer.from(row.private_jwk_ciphertext), iv: Buffer.from(row.iv), tag: Buffer.from(row.tag) },
      row.kid,
    );
  } catch (err) {
    throw new KeyEncryptionKeyError(
      `KEY_ENCRYPTION_KEY does not decrypt the stored signing keys (kid ${row.kid}): ` +
        'start with the key they were created under',
      { cause: err },
    );
  }
  const jwk = JSON.parse(plaintext.toString('utf8')) as JWK;
  // The sealed key must be the one the row publishes (kid = thumbprint of its public part).
  const publicPart = publicJwkMembers(jwk);
  if ((await calculateJwkThumbprint(publicPart, 'sha256')) !== row.kid || jwk.alg !== row.alg) {
    throw new Error(`signing key ${row.kid}: the sealed private key does not match the row's kid or alg`);
  }
  return jwk;
}
