// The dev bootstrap's registrations (dev/registrations.ts) keep the Client adapter's cache
// honest: every client it writes is invalidated through the `invalidateClient` it is handed
// (no hidden registry), so a running instance serves the new metadata at once; a restart that
// writes nothing invalidates nothing. Embedded PGlite, a dev PKI made by openssl at test time.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqlClient } from '../../src/storage/sql.ts';
import { openPglite } from '../../src/storage/embedded/pglite.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { createClientCache } from '../../src/storage/client-cache.ts';
import { ClientAdapter } from '../../src/storage/postgres/client-adapter.ts';
import { ensureDevPki, type DevPki } from '../../src/dev/pki.ts';
import { bootstrapDevRegistrations, DEMO_CLIENT_ID } from '../../src/dev/registrations.ts';
import { DEMO_DPOP_CLIENT_ID } from '../../src/dev/dpop-demo-client.ts';
import { listClientCertificates } from '../../src/storage/postgres/client-certificates.ts';
import { x5tS256 } from '../../src/mtls/thumbprint.ts';

describe('dev bootstrap registrations and the Client cache', () => {
  let dataDir: string;
  let sql: SqlClient;
  let pki: DevPki;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'certbound-dev-registrations-'));
    pki = await ensureDevPki(dataDir);
    sql = await openPglite(undefined);
    await migrate(sql);
  });
  after(async () => {
    await sql?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('invalidates each client it writes, and none on a start that writes nothing', async () => {
    const cache = createClientCache();
    const invalidated: string[] = [];
    const invalidateClient = async (clientId: string) => {
      invalidated.push(clientId);
      await cache.invalidate(clientId);
    };
    const adapter = new ClientAdapter(sql, { cache });
    const first = 'https://localhost:9443';
    assert.equal(await adapter.find(DEMO_CLIENT_ID), undefined, 'cached as unknown before the first start');

    await bootstrapDevRegistrations(sql, pki, { demoResource: first, invalidateClient });
    assert.deepEqual(invalidated, [DEMO_CLIENT_ID, DEMO_DPOP_CLIENT_ID]);
    assert.equal((await adapter.find(DEMO_CLIENT_ID))?.default_resource, first, 'served at once, not after the cache TTL');
    // demo-client's certificate is registered (for the console's timeline and expiry notices), once.
    const registered = await listClientCertificates(sql, DEMO_CLIENT_ID);
    assert.deepEqual(registered.map((c) => [c.x5t_s256, c.status]), [[x5tS256(new X509Certificate(await readFile(pki.demoClientCertFile))), 'active']]);

    invalidated.length = 0;
    await bootstrapDevRegistrations(sql, pki, { demoResource: first, invalidateClient });
    assert.deepEqual(invalidated, [], 'a restart on the same port writes no client');
    assert.equal((await listClientCertificates(sql, DEMO_CLIENT_ID)).length, 1, 'and registers no second certificate');

    const moved = 'https://localhost:19443';
    await bootstrapDevRegistrations(sql, pki, { demoResource: moved, invalidateClient });
    assert.deepEqual(invalidated, [DEMO_CLIENT_ID, DEMO_DPOP_CLIENT_ID], 'DEMO_PORT changed: both demo clients get the new resource');
    assert.equal((await adapter.find(DEMO_CLIENT_ID))?.default_resource, moved);
    assert.equal((await adapter.find(DEMO_DPOP_CLIENT_ID))?.default_resource, moved);
  });
});
