// docker-compose.yml is for users on machines with Docker; here it is parsed and checked against
// the configuration reference so that what it promises is what certbound reads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { CONFIG_REFERENCE, loadConfig } from '../../apps/authz-server/src/config.ts';
import { loadDemoConfig } from '../../apps/resource-server-demo/src/config.ts';

const root = new URL('../../', import.meta.url);
/** The parts of a compose file this test reads, as the test reads them. */
interface ComposeFile {
  readonly services: Readonly<Record<string, {
    readonly environment: Readonly<Record<string, string>>;
    readonly ports: readonly string[];
    readonly network_mode: string;
    readonly command: readonly string[];
    readonly volumes: readonly string[];
    readonly networks: Readonly<Record<string, { readonly ipv4_address: string }>>;
    readonly healthcheck: { readonly test: readonly string[] };
    readonly depends_on: Readonly<Record<string, unknown>>;
  }>>;
}
const compose = parse(await readFile(new URL('docker-compose.yml', root), 'utf8')) as ComposeFile;
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

// The two-replica variant behind nginx: the same deploy/nginx file the faults test runs, with
// every placeholder given, pointed at the replicas' listeners, and the proxy address the replicas
// and the demo trust.
const replicas = parse(await readFile(new URL('docker-compose.replicas.yml', root), 'utf8'), { merge: true }) as ComposeFile;
const replicaConf = await readFile(new URL('deploy/nginx/certbound-replicas.conf', root), 'utf8');

describe('docker-compose.replicas.yml', () => {
  const env = (name: string) => replicas.services[name].environment as Record<string, string>;

  it('defines two certbound replicas behind nginx, with postgres, redis and the demo', () => {
    assert.deepEqual(Object.keys(replicas.services).sort(), ['certbound-1', 'certbound-2', 'nginx', 'postgres', 'redis', 'resource-server-demo']);
  });

  it('gives both replicas the same configuration, of variables certbound reads, that loads', () => {
    assert.deepEqual(env('certbound-1'), env('certbound-2'));
    for (const name of Object.keys(env('certbound-1'))) assert.ok(known.has(name), `${name} is not in the configuration reference`);
    const config = loadConfig(env('certbound-1'));
    assert.equal(config.host, '0.0.0.0');
    assert.match(env('certbound-1').KEY_ENCRYPTION_KEY, /^\$\{KEY_ENCRYPTION_KEY:\?[^}]+\}$/);
    for (const name of ['certbound-1', 'certbound-2']) {
      assert.equal(new URL(env(name).DATABASE_URL).hostname, 'postgres');
      assert.equal(new URL(env(name).REDIS_URL).hostname, 'redis');
    }
  });

  it('mounts deploy/nginx/certbound-replicas.conf as nginx\'s template and gives every placeholder it uses, and no other', () => {
    const nginx = replicas.services.nginx;
    assert.ok((nginx.volumes as string[]).includes('./deploy/nginx/certbound-replicas.conf:/etc/nginx/templates/certbound.conf.template:ro'));
    const used = new Set([...replicaConf.matchAll(/\$\{(CERTBOUND_[A-Z0-9_]+)\}/g)].map((m) => m[1]));
    assert.deepEqual(new Set(Object.keys(env('nginx')).filter((name) => name !== 'NGINX_ENVSUBST_FILTER')), used);
    // The image substitutes only what the filter matches: every placeholder, none of nginx's $variables.
    const filter = new RegExp(env('nginx').NGINX_ENVSUBST_FILTER);
    for (const name of used) assert.match(name, filter);
    for (const variable of ['ssl_client_escaped_cert', 'http_host']) assert.doesNotMatch(variable, filter);
    // The TLS files the configuration reads, mounted into CERTBOUND_TLS_DIR.
    for (const file of ['server.pem', 'server-key.pem', 'certbound-ca.pem']) {
      assert.ok((nginx.volumes as string[]).some((v) => v.endsWith(`:${env('nginx').CERTBOUND_TLS_DIR}/${file}:ro`)), `${file} is mounted`);
    }
  });

  it('points nginx at each replica\'s mutual-TLS listener, and the replicas and the demo trust nginx\'s one address in its format', () => {
    const as = loadConfig(env('certbound-1'));
    const proxy = env('nginx');
    assert.equal(proxy.CERTBOUND_1_MTLS, `certbound-1:${as.mtlsPort}`);
    assert.equal(proxy.CERTBOUND_2_MTLS, `certbound-2:${as.mtlsPort}`);
    const address = replicas.services.nginx.networks.certbound.ipv4_address;
    assert.equal(proxy.CERTBOUND_PROXY_ADDRESS, address);
    assert.deepEqual(as.trustedProxies, [address]);
    assert.equal(env('certbound-1').TRUSTED_PROXY_HEADER, 'nginx');
    const demo = loadDemoConfig(env('resource-server-demo'));
    assert.deepEqual(demo.trustedProxies, [address]);
    assert.equal(demo.trustedProxyHeader, 'nginx');
    assert.equal(proxy.CERTBOUND_API_UPSTREAM, `${address}:${demo.port}`);
    assert.equal(replicas.services['resource-server-demo'].network_mode, 'service:nginx');
  });

  it('publishes nginx\'s ports, which are the issuer\'s and the demo\'s public URLs', () => {
    const as = loadConfig(env('certbound-1'));
    const proxy = env('nginx');
    assert.deepEqual(replicas.services.nginx.ports, [`${proxy.CERTBOUND_LISTEN}:${proxy.CERTBOUND_LISTEN}`, `${proxy.CERTBOUND_API_LISTEN}:${proxy.CERTBOUND_API_LISTEN}`]);
    assert.equal(as.issuer, `https://${proxy.CERTBOUND_SERVER_NAME}:${proxy.CERTBOUND_LISTEN}`);
    assert.equal(as.mtlsBaseUrl, as.issuer);
    const demo = loadDemoConfig(env('resource-server-demo'));
    assert.equal(demo.issuer, as.issuer);
    assert.equal(demo.audience, `https://${proxy.CERTBOUND_SERVER_NAME}:${proxy.CERTBOUND_API_LISTEN}`);
  });

  it('checks each replica\'s /readyz on its public listener, and starts nginx once both are healthy', () => {
    const as = loadConfig(env('certbound-1'));
    for (const name of ['certbound-1', 'certbound-2']) {
      const probe = (replicas.services[name].healthcheck.test as string[]).join(' ');
      assert.match(probe, new RegExp(`port: ${as.publicPort}, path: '/readyz'`));
      assert.deepEqual(replicas.services.nginx.depends_on[name], { condition: 'service_healthy' });
    }
  });

  it('runs the app entry points that exist', async () => {
    for (const name of ['certbound-1', 'certbound-2', 'resource-server-demo']) {
      await readFile(new URL((replicas.services[name].command as string[]).at(-1)!, root));
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
