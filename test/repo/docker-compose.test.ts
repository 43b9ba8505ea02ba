// docker-compose.yml is for users on machines with Docker; here it is parsed and checked against
// the configuration reference so that what it promises is what certbound reads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { CONFIG_REFERENCE, loadConfig } from '../../apps/authz-server/src/config.ts';
import { loadDemoConfig } from '../../apps/resource-server-demo/src/config.ts';

const root = new URL('../../', import.meta.url);
const compose = parse(await readFile(new URL('docker-compose.yml', root), 'utf8'));
const known = new Set(CONFIG_REFERENCE.map((v) => v.name));

describe('docker-compose.yml', () => {
  it('defines postgres, redis, authz-server and resource-server-demo', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['authz-server', 'postgres', 'redis', 'resource-server-demo']);
  });

  it('gives authz-server only variables certbound reads, and a configuration that loads', () => {
    const env = compose.services['authz-server'].environment as Record<string, string>;
    for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is not in the configuration reference`);
    const config = loadConfig(env);
    assert.equal(config.publicPort, 8443);
    assert.equal(config.mtlsPort, 8444);
    assert.equal(config.host, '0.0.0.0');
  });

  it('publishes the ports the configuration listens on', () => {
    const env = compose.services['authz-server'].environment as Record<string, string>;
    const demo = compose.services['resource-server-demo'];
    // The demo shares authz-server's network namespace, so authz-server publishes its port too.
    assert.equal(demo.network_mode, 'service:authz-server');
    assert.deepEqual(compose.services['authz-server'].ports,
      [`${env.PUBLIC_PORT}:${env.PUBLIC_PORT}`, `${env.MTLS_PORT}:${env.MTLS_PORT}`, `${demo.environment.DEMO_PORT}:${demo.environment.DEMO_PORT}`]);
  });

  it('gives resource-server-demo a configuration that loads and matches the authorization server', () => {
    const env = compose.services['resource-server-demo'].environment as Record<string, string>;
    const demo = loadDemoConfig(env);
    const as = loadConfig(compose.services['authz-server'].environment);
    assert.equal(demo.issuer, as.issuer);
    assert.equal(demo.jwksUri, `${as.issuer}/jwks`);
    assert.equal(demo.port, 9443);
    assert.equal(demo.audience, 'https://localhost:9443');
  });

  it('requires KEY_ENCRYPTION_KEY from the environment (.env), as DATABASE_URL does, and ships none', () => {
    const env = compose.services['authz-server'].environment as Record<string, string>;
    // Compose's ${VAR:?message} refuses to start without it; a key written into the file would be everyone's.
    assert.match(env.KEY_ENCRYPTION_KEY, /^\$\{KEY_ENCRYPTION_KEY:\?[^}]+\}$/);
    assert.throws(() => loadConfig({ ...env, KEY_ENCRYPTION_KEY: '' }), /^ConfigError: KEY_ENCRYPTION_KEY: must be set when DATABASE_URL is set/);
  });

  it('points authz-server at the postgres and redis services with their credentials', () => {
    const env = compose.services['authz-server'].environment as Record<string, string>;
    const pg = compose.services.postgres.environment as Record<string, string>;
    const db = new URL(env.DATABASE_URL);
    assert.equal(db.hostname, 'postgres');
    assert.equal(db.username, pg.POSTGRES_USER);
    assert.equal(db.password, pg.POSTGRES_PASSWORD);
    assert.equal(db.pathname, `/${pg.POSTGRES_DB}`);
    assert.equal(new URL(env.REDIS_URL).hostname, 'redis');
  });

  it('builds from a Dockerfile that exists and runs the app entry points that exist', async () => {
    await readFile(new URL('Dockerfile', root));
    for (const name of ['authz-server', 'resource-server-demo']) {
      const command = compose.services[name].command as string[];
      await readFile(new URL(command.at(-1)!, root));
    }
  });
});

describe('README configuration reference', () => {
  it('lists every variable certbound reads, and no other', async () => {
    const readme = await readFile(new URL('README.md', root), 'utf8');
    const listed = [...readme.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    const section = readme.slice(readme.indexOf('## Configuration'));
    const inTable = listed.filter((name) => section.includes(`| \`${name}\` |`));
    assert.deepEqual(new Set(inTable.filter((n) => known.has(n))), known);
  });

  it('opens with the two commands a newcomer runs', async () => {
    const head = (await readFile(new URL('README.md', root), 'utf8')).slice(0, 1500);
    assert.match(head, /npm ci && npm start/);
    assert.match(head, /npm test/);
  });
});
