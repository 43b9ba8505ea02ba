// Mutual TLS to the stores (issue 14 item 4), against a PRIVATE PostgreSQL (initdb into a temp
// dir; ssl=on, ssl_ca_file, and only `hostssl all all 127.0.0.1/32 cert` in pg_hba.conf, so a
// connection without a trusted client certificate whose CN is the user is refused) and a PRIVATE
// Redis listening only on a tls-port with tls-auth-clients yes. Every certificate is made at test
// time. certbound connects to both with DATABASE_SSL_* and REDIS_TLS_* and serves a token; a
// client certificate from a CA the store does not trust is refused by the store, and certbound's
// start fails with exit code 78 and a message naming the file to fix. New connections read the
// files again after they change (a rotation without a restart).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../apps/authz-server/src/config.ts';
import { startAuthzServer } from '../../apps/authz-server/src/main.ts';
import { createLogger } from '../../apps/authz-server/src/log.ts';
import { openPostgres } from '../../apps/authz-server/src/storage/postgres/pool.ts';
import { loadStoreTls } from '../../apps/authz-server/src/storage/store-tls.ts';
import { issueCertificate, type IssuedCertificate } from '../support/pki.ts';
import { makeTestPki, startTestAuthz, type TestAuthz } from '../support/authz.ts';
import { freePort } from '../support/https.ts';
import { startProcess } from '../support/processes.ts';
import { privatePostgresUnavailable } from '../support/private-stores.ts';
import { redisServersUnavailable, startTlsRedis, type RedisProcess } from '../support/redis-servers.ts';

const run = promisify(execFile);
const skip = privatePostgresUnavailable() ?? redisServersUnavailable() ?? false;

interface Files {
  ca: string;
  cert: string;
  key: string;
}

async function writeIdentity(dir: string, name: string, ca: IssuedCertificate, leaf: IssuedCertificate): Promise<Files> {
  const files = { ca: join(dir, `${name}-ca.pem`), cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  await writeFile(files.ca, ca.certPem);
  await writeFile(files.cert, leaf.certPem);
  await writeFile(files.key, leaf.keyPem, { mode: 0o600 });
  return files;
}

/** A PostgreSQL that takes only TLS connections with a client certificate signed by `ca` (user = CN). */
async function startTlsPostgres(dir: string, server: IssuedCertificate, ca: IssuedCertificate): Promise<{ port: number; stop(): Promise<void> }> {
  const bin = (await run('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'])).stdout.trim();
  const root = userInfo().uid === 0;
  const as = (command: string, args: string[]) => (root
    ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], { timeout: 60_000 })
    : run(join(bin, command), args, { timeout: 60_000 }));
  const pgDir = join(dir, 'pg');
  await mkdir(pgDir, { recursive: true });
  const data = join(pgDir, 'data');
  await writeFile(join(pgDir, 'server.crt'), server.certPem);
  await writeFile(join(pgDir, 'server.key'), server.keyPem, { mode: 0o600 });
  await writeFile(join(pgDir, 'ca.crt'), ca.certPem);
  if (root) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    for (const path of [dir, pgDir, join(pgDir, 'server.crt'), join(pgDir, 'server.key'), join(pgDir, 'ca.crt')]) await chown(path, uid, gid);
  }
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  // Over TCP only TLS with a client certificate (its CN is the user); the socket stays for pg_ctl.
  await writeFile(join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 cert\n');
  if (root) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    await chown(join(data, 'pg_hba.conf'), uid, uid === 0 ? 0 : Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
  }
  const port = await freePort();
  const options = [
    `-p ${port}`, `-k ${pgDir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c ssl=on',
    `-c ssl_cert_file=${join(pgDir, 'server.crt')}`, `-c ssl_key_file=${join(pgDir, 'server.key')}`, `-c ssl_ca_file=${join(pgDir, 'ca.crt')}`,
  ].join(' ');
  await as('pg_ctl', ['-D', data, '-w', '-l', join(pgDir, 'server.log'), '-o', options, 'start']);
  return {
    port,
    stop: async () => {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    },
  };
}

describe('mutual TLS to PostgreSQL and Redis', { skip }, () => {
  let dir: string;
  let postgres: { port: number; stop(): Promise<void> };
  let redis: RedisProcess;
  let storeCa: IssuedCertificate;
  let good: Files;
  let wrong: Files;
  let authz: TestAuthz | undefined;
  let databaseUrl: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certbound-store-tls-'));
    storeCa = await issueCertificate({ subject: 'CN=certbound test store CA', ca: true, days: 2 });
    const serverCert = await issueCertificate({
      subject: 'CN=localhost', issuer: storeCa, sanDns: ['localhost'], sanIp: ['127.0.0.1'], extKeyUsage: ['serverAuth'], days: 2,
    });
    // PostgreSQL's `cert` method takes the user from the CN: certbound connects as postgres.
    good = await writeIdentity(dir, 'client', storeCa, await issueCertificate({ subject: 'CN=postgres', issuer: storeCa, days: 2 }));
    const otherCa = await issueCertificate({ subject: 'CN=some other CA', ca: true, days: 2 });
    wrong = await writeIdentity(dir, 'wrong', storeCa, await issueCertificate({ subject: 'CN=postgres', issuer: otherCa, days: 2 }));
    postgres = await startTlsPostgres(dir, serverCert, storeCa);
    databaseUrl = `postgres://postgres@127.0.0.1:${postgres.port}/postgres`;
    const serverFiles = await writeIdentity(dir, 'redis-server', storeCa, serverCert);
    redis = await startTlsRedis({ certFile: serverFiles.cert, keyFile: serverFiles.key, caFile: serverFiles.ca });
  });

  after(async () => {
    await authz?.close();
    await redis?.kill();
    await postgres?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const storeEnv = (database: Files, redisFiles: Files): Record<string, string> => ({
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: 'certbound',
    DATABASE_SSL_CA_FILE: database.ca,
    DATABASE_SSL_CERT_FILE: database.cert,
    DATABASE_SSL_KEY_FILE: database.key,
    REDIS_URL: `rediss://127.0.0.1:${redis.port}`,
    REDIS_TLS_CA_FILE: redisFiles.ca,
    REDIS_TLS_CERT_FILE: redisFiles.cert,
    REDIS_TLS_KEY_FILE: redisFiles.key,
  });

  it('the stores refuse a connection without a trusted client certificate', async () => {
    await assert.rejects(async () => {
      const sql = await openPostgres(databaseUrl);
      await sql.close();
    }, /no pg_hba.conf entry|SSL off|certificate/);
    const plain = new Redis({ port: redis.port, host: '127.0.0.1', tls: { ca: storeCa.certPem }, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    plain.on('error', () => undefined);
    await assert.rejects(plain.connect());
    plain.disconnect();
  });

  it('certbound connects to both over mutual TLS (verify-full) and serves a token', async () => {
    authz = await startTestAuthz({ pki: await makeTestPki(), storage: 'embedded', env: storeEnv(good, good) });
    const token = await authz.admin.token();
    assert.match(token, /^eyJ/);
    const { rows } = await authz.server.stores.sql.query<{ ssl: boolean; client_dn: string | null }>(
      'select ssl, client_dn from pg_stat_ssl where pid = pg_backend_pid()');
    assert.deepEqual(rows, [{ ssl: true, client_dn: '/CN=postgres' }]);
    assert.equal(await authz.server.stores.kv.get('nothing-here'), undefined, 'Redis answers over TLS');
  });

  it('a client certificate PostgreSQL does not trust: refused by the store, certbound names DATABASE_SSL_CERT_FILE (exit code 78)', async () => {
    const env = { ...authz!.env, ...storeEnv(wrong, good), DATA_DIR: join(dir, 'data-pg-wrong') };
    await assert.rejects(startAuthzServer(loadConfig(env), createLogger('silent')), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.variable, 'DATABASE_SSL_CERT_FILE');
      assert.match(err.message, new RegExp(`^DATABASE_SSL_CERT_FILE: the server refused the client certificate \\(${wrong.cert}`));
      return true;
    });
    await assert.rejects(startProcess('apps/authz-server/src/main.ts', env, { ready: /"event":"listening"/, timeoutMs: 60_000 }),
      /exited with 78 before ready:[\s\S]*configuration error: DATABASE_SSL_CERT_FILE: the server refused the client certificate/);
  });

  it('a client certificate Redis does not trust: refused by the store, certbound names REDIS_TLS_CERT_FILE (exit code 78)', async () => {
    const env = { ...authz!.env, ...storeEnv(good, wrong), DATA_DIR: join(dir, 'data-redis-wrong') };
    await assert.rejects(startAuthzServer(loadConfig(env), createLogger('silent')), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.variable, 'REDIS_TLS_CERT_FILE');
      assert.match(err.message, /^REDIS_TLS_CERT_FILE: the server refused the client certificate/);
      return true;
    });
    await assert.rejects(startProcess('apps/authz-server/src/main.ts', env, { ready: /"event":"listening"/, timeoutMs: 60_000 }),
      /exited with 78 before ready:[\s\S]*configuration error: REDIS_TLS_CERT_FILE: the server refused the client certificate/);
  });

  it('a store certificate that does not chain to the CA file: certbound names DATABASE_SSL_CA_FILE', async () => {
    const otherCa = await issueCertificate({ subject: 'CN=not the store CA', ca: true, days: 2 });
    const caFile = join(dir, 'not-the-store-ca.pem');
    await writeFile(caFile, otherCa.certPem);
    const env = { ...authz!.env, ...storeEnv({ ...good, ca: caFile }, good), DATA_DIR: join(dir, 'data-ca-wrong') };
    await assert.rejects(startAuthzServer(loadConfig(env), createLogger('silent')), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.variable, 'DATABASE_SSL_CA_FILE');
      return true;
    });
  });

  it('a key that is not the certificate\'s is refused at start, naming DATABASE_SSL_KEY_FILE', async () => {
    const env = { ...authz!.env, ...storeEnv({ ...good, key: wrong.key }, good), DATA_DIR: join(dir, 'data-key-wrong') };
    await assert.rejects(startAuthzServer(loadConfig(env), createLogger('silent')), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.variable, 'DATABASE_SSL_KEY_FILE');
      assert.match(err.message, /is not the key of the certificate/);
      return true;
    });
  });

  it('new connections read rotated files: the next PostgreSQL connection presents the new certificate; a half-done rotation keeps the old', async () => {
    const rotating = await writeIdentity(join(dir), 'rotating', storeCa, await issueCertificate({ subject: 'CN=postgres', issuer: storeCa, days: 2 }));
    const tls = loadStoreTls('DATABASE_SSL', { caFile: rotating.ca, certFile: rotating.cert, keyFile: rotating.key });
    const serialOf = async () => {
      const sql = await openPostgres(databaseUrl, { ssl: tls.options });
      try {
        const { rows } = await sql.query<{ client_serial: string }>('select client_serial::text from pg_stat_ssl where pid = pg_backend_pid()');
        return rows[0]?.client_serial;
      } finally {
        await sql.close();
      }
    };
    const before = await serialOf();
    const renewed = await issueCertificate({ subject: 'CN=postgres', issuer: storeCa, days: 2 });
    await writeFile(rotating.key, renewed.keyPem);
    await writeFile(rotating.cert, renewed.certPem);
    const afterRotation = await serialOf();
    assert.ok(before && afterRotation, 'serials read');
    assert.notEqual(afterRotation, before, 'the new connection presented the renewed certificate');
    assert.equal(BigInt(afterRotation), BigInt(`0x${new X509Certificate(renewed.certPem).serialNumber}`));

    // A rotation caught half-way (the new key beside the old certificate) is refused once, naming
    // the file, and connections go on with the material in force.
    const problems: Error[] = [];
    const watched = loadStoreTls('DATABASE_SSL', { caFile: rotating.ca, certFile: rotating.cert, keyFile: rotating.key }, (err) => problems.push(err));
    const inForce = new X509Certificate(renewed.certPem).serialNumber;
    await writeFile(rotating.key, (await issueCertificate({ subject: 'CN=postgres', issuer: storeCa, days: 2 })).keyPem);
    watched.refresh();
    watched.refresh();
    assert.equal(problems.length, 1, problems.map((p) => p.message).join('; '));
    assert.ok(problems[0] instanceof ConfigError && problems[0].variable === 'DATABASE_SSL_KEY_FILE', problems[0]?.message);
    const sql = await openPostgres(databaseUrl, { ssl: watched.options });
    try {
      const { rows } = await sql.query<{ client_serial: string }>('select client_serial::text from pg_stat_ssl where pid = pg_backend_pid()');
      assert.equal(BigInt(rows[0]?.client_serial ?? '0'), BigInt(`0x${inForce}`));
    } finally {
      await sql.close();
    }
  });
});
