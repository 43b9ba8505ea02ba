// Signing keys: created once per deployment, reused, encrypted at rest under the KEK.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, importJWK, jwtVerify } from 'jose';
import type { SqlClient } from '../../src/storage/sql.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { loadOrCreateSigningKeys } from '../../src/keys/signing-keys.ts';
import type { SigningKeyRow } from '../../src/storage/postgres/signing-keys.ts';
import { SKIP_POSTGRES, openTestPostgres, sharedPgliteSchemas } from '../storage/helpers.ts';

interface Fresh {
  sql: SqlClient;
  /** Another instance's client on the same database. */
  second: () => Promise<SqlClient>;
}

function keysSuite(engine: string, skip: string | false, fresh: () => Promise<Fresh>): void {
  describe(`signing keys: ${engine}`, { skip }, () => {
    const kek = randomBytes(32);

    it('a first start creates ES256 (P-256), PS256 (RSA 2048) and EdDSA (Ed25519) keys, ES256 first', async () => {
      const { sql } = await fresh();
      const { jwks } = await loadOrCreateSigningKeys(sql, kek);
      assert.deepEqual(
        jwks.keys.map((k) => [k.alg, k.kty, k.crv, k.use]),
        [
          ['ES256', 'EC', 'P-256', 'sig'],
          ['PS256', 'RSA', undefined, 'sig'],
          ['EdDSA', 'OKP', 'Ed25519', 'sig'],
        ],
      );
      assert.equal(Buffer.from(jwks.keys[1].n!, 'base64url').length * 8, 2048);
      for (const jwk of jwks.keys) {
        assert.ok(jwk.d, `${jwk.alg} is a private JWK`);
        const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
        assert.equal(jwk.kid, await calculateJwkThumbprint(pub, 'sha256'), 'kid is the RFC 7638 thumbprint');
      }
    });

    it('later starts reuse the stored keys', async () => {
      const { sql } = await fresh();
      const first = await loadOrCreateSigningKeys(sql, kek);
      const again = await loadOrCreateSigningKeys(sql, kek);
      assert.deepEqual(again.jwks, first.jwks);
      const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from signing_keys');
      assert.equal(rows[0].n, 3);
    });

    it('stores only the public JWK in clear: the private d never appears in the row', async () => {
      const { sql } = await fresh();
      const { jwks } = await loadOrCreateSigningKeys(sql, kek);
      const { rows } = await sql.query<SigningKeyRow>('select * from signing_keys');
      for (const jwk of jwks.keys) {
        const row = rows.find((r) => r.kid === jwk.kid)!;
        assert.equal(row.public_jwk.d, undefined);
        const stored = Buffer.concat([
          Buffer.from(JSON.stringify(row)),
          Buffer.from(row.private_jwk_ciphertext),
          Buffer.from(row.iv),
          Buffer.from(row.tag),
        ]);
        const d = Buffer.from(jwk.d!, 'base64url');
        assert.equal(stored.includes(jwk.d!), false, `${jwk.alg}: no base64url d`);
        assert.equal(stored.includes(d), false, `${jwk.alg}: no raw d`);
        assert.equal(Buffer.from(row.private_jwk_ciphertext).includes(Buffer.from('"d"')), false);
      }
    });

    it('signs tokens that verify against the published public key', async () => {
      const { sql } = await fresh();
      const { jwks } = await loadOrCreateSigningKeys(sql, kek);
      const { rows } = await sql.query<SigningKeyRow>('select kid, public_jwk from signing_keys');
      for (const jwk of jwks.keys) {
        const jwt = await new SignJWT({ sub: 'client-a' })
          .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid!, typ: 'at+jwt' })
          .sign(await importJWK(jwk, jwk.alg));
        const publicJwk = rows.find((r) => r.kid === jwk.kid)!.public_jwk;
        const { payload } = await jwtVerify(jwt, await importJWK(publicJwk, jwk.alg));
        assert.equal(payload.sub, 'client-a');
      }
    });

    it('refuses a wrong KEY_ENCRYPTION_KEY with a clear error that leaks nothing', async () => {
      const { sql } = await fresh();
      const { jwks } = await loadOrCreateSigningKeys(sql, kek);
      await assert.rejects(loadOrCreateSigningKeys(sql, randomBytes(32)), (err: Error) => {
        assert.match(err.message, /^KEY_ENCRYPTION_KEY does not decrypt the stored signing keys/);
        for (const jwk of jwks.keys) assert.ok(!err.message.includes(jwk.d!));
        return true;
      });
      const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from signing_keys');
      assert.equal(rows[0].n, 3, 'no new keys created over the unreadable ones');
    });

    it('refuses a sealed key moved to another row (the kid is authenticated)', async () => {
      const { sql } = await fresh();
      await loadOrCreateSigningKeys(sql, kek);
      await sql.query(
        `update signing_keys set private_jwk_ciphertext = o.private_jwk_ciphertext, iv = o.iv, tag = o.tag
         from signing_keys o where signing_keys.alg = 'ES256' and o.alg = 'EdDSA'`,
      );
      await assert.rejects(loadOrCreateSigningKeys(sql, kek), /does not decrypt the stored signing keys \(kid /);
    });

    it('two instances starting at once end with one set of keys', async () => {
      const { sql, second } = await fresh();
      const other = await second();
      const [a, b] = await Promise.all([loadOrCreateSigningKeys(sql, kek), loadOrCreateSigningKeys(other, kek)]);
      assert.deepEqual(
        a.jwks.keys.map((k) => k.kid),
        b.jwks.keys.map((k) => k.kid),
      );
      const { rows } = await sql.query<{ n: number }>('select count(*)::int as n from signing_keys');
      assert.equal(rows[0].n, 3);
    });
  });
}

// One PGlite for the file, a fresh schema on it per test (storage/helpers.ts).
const pgliteSchema = sharedPgliteSchemas();
keysSuite('PGlite', false, async () => {
  const sql = await pgliteSchema();
  await migrate(sql);
  return { sql, second: async () => sql };
});

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanups) await fn();
});
keysSuite('PostgreSQL', SKIP_POSTGRES, async () => {
  const pg = await openTestPostgres();
  await migrate(pg.sql);
  cleanups.push(pg.drop);
  return { sql: pg.sql, second: pg.second };
});
