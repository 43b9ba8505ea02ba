// ops/reload.ts: the TLS material read again on SIGHUP and on a file change, checked before it is
// applied (a bad file keeps the old material and logs one line), and what a reload changes: the
// listeners' certificate, the trust store (verdicts of the old CAs decided again on the same
// connection) and CLIENT_CRL_FILE (a certificate revoked in it is refused on its open connection).
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PresentedCertificate } from '@certbound/cnf-verifier';
import {
  loadTlsMaterial, TlsMaterialError, watchTlsMaterial, type TlsFiles, type TlsMaterial, type TlsReloadOptions,
} from '../../src/ops/reload.ts';
import { createLiveTrustStore } from '../../src/mtls/trust-store.ts';
import { createVerdictCache } from '../../src/mtls/connection-verdict.ts';
import { createCrlFileSource } from '../../src/mtls/revocation/crl-file.ts';
import { createRevocationChecker } from '../../src/mtls/revocation/index.ts';
import type { ServerTlsMaterial } from '../../src/http/tls-options.ts';
import { issueCertificate, x5tS256, type IssuedCertificate } from '../../../../test/support/pki.ts';
import { createFixture, type Fixture } from '../mtls/revocation/fixture.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

function presented(leaf: X509Certificate, chain: X509Certificate[] = []): PresentedCertificate {
  return { leaf, chain, source: 'tls', thumbprint: x5tS256(leaf) };
}

type Line = Record<string, unknown> & { level: 'info' | 'error' | 'debug'; msg: string };

function recordingLogger() {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (fields: Record<string, unknown>, msg: string) => {
    lines.push({ ...fields, level, msg });
  };
  return { lines, logger: { info: at('info'), error: at('error'), debug: at('debug') } as unknown as TlsReloadOptions['logger'] };
}

/** Resolves when `condition` holds, polling; fails after a generous deadline (never a timing assertion). */
async function eventually(condition: () => boolean, what: string, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`still waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let dir: string;
let serverCa: IssuedCertificate;
let serverA: IssuedCertificate;
let serverB: IssuedCertificate;
let oldRoot: IssuedCertificate;
let newRoot: IssuedCertificate;
let oldClient: IssuedCertificate;
let newClient: IssuedCertificate;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certbound-reload-'));
  serverCa = await issueCertificate({ subject: 'CN=reload server CA', ca: true, days: 2 });
  serverA = await issueCertificate({ subject: 'CN=localhost', issuer: serverCa, sanDns: ['localhost'], extKeyUsage: ['serverAuth'], days: 2 });
  serverB = await issueCertificate({ subject: 'CN=localhost', issuer: serverCa, sanDns: ['localhost'], extKeyUsage: ['serverAuth'], days: 3 });
  oldRoot = await issueCertificate({ subject: 'CN=reload old client root', ca: true, days: 30 });
  newRoot = await issueCertificate({ subject: 'CN=reload new client root', ca: true, days: 30 });
  oldClient = await issueCertificate({ subject: 'CN=old partner', issuer: oldRoot, days: 5 });
  newClient = await issueCertificate({ subject: 'CN=new partner', issuer: newRoot, days: 5 });
});
after(() => rm(dir, { recursive: true, force: true }));

let counter = 0;
/** A fresh set of files holding server A and the old client root. */
async function filesWith(contents: { cert?: string; key?: string; clientCa?: string } = {}): Promise<TlsFiles> {
  const base = join(dir, `set-${++counter}`);
  const files = { cert: `${base}-cert.pem`, key: `${base}-key.pem`, clientCa: `${base}-ca.pem` };
  await writeFile(files.cert, contents.cert ?? serverA.certPem);
  await writeFile(files.key, contents.key ?? serverA.keyPem, { mode: 0o600 });
  await writeFile(files.clientCa, contents.clientCa ?? oldRoot.certPem);
  return files;
}

/** A reloader over fresh files with recording targets; polling only when `intervalMs` is given. */
async function watching(intervalMs = 3_600_000, extra: Partial<TlsReloadOptions> = {}) {
  const files = await filesWith();
  const initial = await loadTlsMaterial(files);
  const trustStore = createLiveTrustStore(initial.trustStore);
  const applied: ServerTlsMaterial[] = [];
  const { lines, logger } = recordingLogger();
  const reloader = watchTlsMaterial({
    files, initial, logger, intervalMs, targets: { listeners: { reload: (material) => applied.push(material) }, trustStore }, ...extra,
  });
  // The first poll compares the files with what was loaded; wait for it so the test starts from rest.
  await eventually(() => lines.some((l) => l.event === 'tls_reloaded' && l.trigger === 'file'), 'the first poll');
  return { files, initial, trustStore, applied, lines, reloader };
}

/** The PEM with only its first line of base64: the frame is right, the DER inside is cut short. */
const truncated = (pem: string) => {
  const lines = pem.trim().split('\n');
  return `${[lines[0], lines[1], lines.at(-1)].join('\n')}\n`;
};

const failures = (lines: Line[]) => lines.filter((l) => l.event === 'tls_reload_failed');

describe('TLS material at start', () => {
  it('loads the server certificate, its key and the client CAs', async () => {
    const material = await loadTlsMaterial(await filesWith({ clientCa: oldRoot.certPem + newRoot.certPem }));
    assert.equal(material.serverCertificate.fingerprint256, serverA.cert.fingerprint256);
    assert.equal(material.trustStore.size, 2);
    assert.equal(material.generation, 0);
  });

  it('names the variable, the file and the reason of a file it cannot use', async () => {
    const cases: Array<[Partial<Record<'cert' | 'key' | 'clientCa', string>>, string, RegExp]> = [
      [{ key: '' }, 'TLS_KEY_FILE', /^is empty$/],
      [{ cert: '  \n' }, 'TLS_CERT_FILE', /^is empty$/],
      [{ key: serverB.keyPem }, 'TLS_KEY_FILE', /^holds a private key that does not match the certificate in TLS_CERT_FILE /],
      [{ cert: truncated(serverA.certPem) }, 'TLS_CERT_FILE', /^holds a certificate that cannot be parsed/],
      [{ key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }, 'TLS_KEY_FILE', /^holds no usable private key/],
      [{ clientCa: 'not a certificate' }, 'CLIENT_CA_FILE', /^no certificate found$/],
    ];
    for (const [contents, variable, reason] of cases) {
      const files = await filesWith(contents);
      const file = { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key, CLIENT_CA_FILE: files.clientCa }[variable];
      await assert.rejects(loadTlsMaterial(files), (err: unknown) => {
        assert.ok(err instanceof TlsMaterialError, String(err));
        assert.equal(err.variable, variable, JSON.stringify(contents).slice(0, 80));
        assert.equal(err.file, file);
        assert.match(err.reason, reason);
        return true;
      });
    }
    const files = await filesWith();
    await assert.rejects(loadTlsMaterial({ ...files, key: join(dir, 'missing-key.pem') }),
      { variable: 'TLS_KEY_FILE', reason: 'cannot be read (ENOENT)' });
  });
});

describe('reload', () => {
  it('SIGHUP applies a new server certificate and key to the listeners and tells the subscribers', async () => {
    const { files, initial, applied, lines, reloader } = await watching();
    const seen: TlsMaterial[] = [];
    assert.equal(reloader.onReloaded((material) => seen.push(material)), initial, 'onReloaded returns the material in force');
    await writeFile(files.cert, serverB.certPem);
    await writeFile(files.key, serverB.keyPem);
    const mark = lines.length;
    const outcome = await reloader.reload('SIGHUP');
    assert.deepEqual(outcome, { changed: ['TLS_CERT_FILE', 'TLS_KEY_FILE'], failed: [] });
    assert.deepEqual(applied, [{ cert: serverB.certPem, key: serverB.keyPem, clientCa: oldRoot.certPem }]);
    assert.equal(reloader.current().serverCertificate.fingerprint256, serverB.cert.fingerprint256);
    assert.equal(reloader.current().generation, 1);
    assert.deepEqual(seen, [reloader.current()]);
    const logged = lines.slice(mark);
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.equal(logged[0].event, 'tls_reloaded');
    assert.equal(logged[0].level, 'info');
    assert.deepEqual(logged[0].changed, ['TLS_CERT_FILE', 'TLS_KEY_FILE']);
    assert.equal(logged[0].server_certificate_not_after, serverB.cert.validToDate.toISOString());
    assert.equal(logged[0].client_cas, 1);
    assert.equal(JSON.stringify(logged).includes('PRIVATE KEY'), false, 'the key never reaches the log');
    reloader.close();
  });

  it('a key that does not match its certificate keeps the old material and logs one tls_reload_failed line', async () => {
    const { files, initial, applied, lines, reloader } = await watching();
    await writeFile(files.cert, serverB.certPem); // the key still is A's
    const mark = lines.length;
    const outcome = await reloader.reload('file');
    await reloader.reload('file'); // the watcher looking again at the same files says nothing more
    assert.deepEqual(outcome.changed, []);
    assert.deepEqual(outcome.failed, [{
      variable: 'TLS_CERT_FILE', file: files.cert, reason: `holds a certificate (CN=localhost) that does not match the key in TLS_KEY_FILE ${files.key}`,
    }]);
    assert.deepEqual(applied, []);
    assert.equal(reloader.current(), initial);
    const logged = lines.slice(mark);
    assert.equal(failures(logged).length, 1, JSON.stringify(logged));
    assert.equal(failures(logged)[0].variable, 'TLS_CERT_FILE');
    assert.equal(failures(logged)[0].level, 'error');
    assert.equal(logged.filter((l) => l.event === 'tls_reloaded').length, 0);
    // An operator's SIGHUP is answered again: the problem is still there.
    await reloader.reload('SIGHUP');
    assert.equal(failures(lines.slice(mark)).length, 2);
    // Put back, then broken the same way again: that is news again.
    await writeFile(files.cert, serverA.certPem);
    assert.deepEqual(await reloader.reload('file'), { changed: [], failed: [] });
    await writeFile(files.cert, serverB.certPem);
    await reloader.reload('file');
    assert.equal(failures(lines.slice(mark)).length, 3);
    reloader.close();
  });

  it('an empty or unreadable file keeps the old material; the other files still reload', async () => {
    const { files, trustStore, applied, lines, reloader } = await watching();
    await writeFile(files.clientCa, '');
    await writeFile(files.cert, serverB.certPem);
    await writeFile(files.key, serverB.keyPem);
    const mark = lines.length;
    const outcome = await reloader.reload('SIGHUP');
    assert.deepEqual(outcome.changed, ['TLS_CERT_FILE', 'TLS_KEY_FILE']);
    assert.deepEqual(outcome.failed, [{ variable: 'CLIENT_CA_FILE', file: files.clientCa, reason: 'is empty' }]);
    assert.equal(trustStore.generation, 0, 'the CAs in force stay');
    assert.equal(trustStore.size, 1);
    assert.equal(applied.length, 1);
    assert.equal(failures(lines.slice(mark)).length, 1);

    await rm(files.key);
    const second = await reloader.reload('SIGHUP');
    assert.deepEqual(second.failed.map((f) => [f.variable, f.reason]), [['TLS_KEY_FILE', 'cannot be read (ENOENT)'], ['CLIENT_CA_FILE', 'is empty']]);
    assert.equal(applied.length, 1, 'the listeners keep server B');
    assert.equal(reloader.current().serverCertificate.fingerprint256, serverB.cert.fingerprint256);
    reloader.close();
  });

  it('a new CA bundle: a verdict decided under the old CAs is decided again on its open connection', async () => {
    const { files, trustStore, reloader } = await watching();
    const verdicts = createVerdictCache(trustStore);
    const oldConnection = {};
    const oldPresented = presented(oldClient.cert);
    assert.equal((await verdicts.verdict(oldConnection, oldPresented)).ok, true);
    assert.equal((await verdicts.verdict({}, presented(newClient.cert))).ok, false);

    await writeFile(files.clientCa, newRoot.certPem);
    assert.deepEqual((await reloader.reload('SIGHUP')).changed, ['CLIENT_CA_FILE']);
    assert.equal(trustStore.generation, 1);
    const again = await verdicts.verdict(oldConnection, oldPresented);
    assert.equal(again.ok, false);
    assert.equal(!again.ok && again.code, 'untrusted');
    assert.equal((await verdicts.verdict({}, presented(newClient.cert))).ok, true);
    assert.equal(reloader.current().trustStore.size, 1);
    reloader.close();
  });

  it('a changed file is applied without a signal', async () => {
    const { files, lines, reloader } = await watching(25);
    const seen: TlsMaterial[] = [];
    reloader.onReloaded((material) => seen.push(material));
    await writeFile(files.clientCa, oldRoot.certPem + newRoot.certPem);
    await eventually(() => seen.length > 0, 'the watcher to apply the new CA bundle');
    assert.equal(seen[0].trustStore.size, 2);
    const reloaded = lines.filter((l) => l.event === 'tls_reloaded' && l.level === 'info');
    assert.deepEqual(reloaded.map((l) => [l.trigger, l.changed]), [['file', ['CLIENT_CA_FILE']]]);
    reloader.close();
  });

  it('a touched but unchanged file changes nothing and logs nothing an operator sees', async () => {
    const { files, applied, lines, reloader } = await watching();
    await writeFile(files.cert, serverA.certPem);
    const mark = lines.length;
    assert.deepEqual(await reloader.reload('file'), { changed: [], failed: [] });
    assert.deepEqual(applied, []);
    assert.deepEqual(lines.slice(mark).map((l) => l.level), ['debug']);
    reloader.close();
  });
});

describe('CLIENT_CRL_FILE reload', () => {
  let pki: Fixture;
  before(async () => {
    pki = await createFixture();
  });
  after(() => pki.dispose());

  it('a certificate revoked in the new file is refused on its open connection', async () => {
    const client = await pki.issue('crl-reload-client');
    const crlFile = join(dir, 'clients.crl.pem');
    await writeFile(crlFile, pki.pemOf(await pki.gencrl()));
    const files = { ...(await filesWith({ clientCa: pki.ca.toString() })), crl: crlFile };
    const initial = await loadTlsMaterial(files);
    const trustStore = createLiveTrustStore(initial.trustStore);
    const source = createCrlFileSource(crlFile, { now: Date.now, recheckMs: Infinity });
    const revocation = createRevocationChecker({ mode: 'hard', crlFile: source });
    const verdicts = createVerdictCache(trustStore, { revocation });
    const { lines, logger } = recordingLogger();
    const reloader = watchTlsMaterial({
      files, initial, logger, intervalMs: 3_600_000, targets: { listeners: { reload: () => undefined }, trustStore, verdicts, crl: source },
    });
    try {
      await eventually(() => lines.some((l) => l.event === 'tls_reloaded'), 'the first poll');
      assert.deepEqual(lines.filter((l) => l.level !== 'debug'), [], 'the file read at the first poll is no change');
      const connection = {};
      const certificate = presented(client);
      assert.equal((await verdicts.verdict(connection, certificate)).ok, true);

      await pki.revoke(client, 'keyCompromise');
      await writeFile(crlFile, pki.pemOf(await pki.gencrl()));
      assert.deepEqual((await reloader.reload('SIGHUP')).changed, ['CLIENT_CRL_FILE']);
      const verdict = await verdicts.verdict(connection, certificate);
      assert.equal(!verdict.ok && verdict.code, 'revoked');

      await writeFile(crlFile, 'garbage');
      const outcome = await reloader.reload('SIGHUP');
      assert.deepEqual(outcome.failed, [{ variable: 'CLIENT_CRL_FILE', file: crlFile, reason: 'CRL #1 is not a well-formed CRL' }]);
      const kept = await verdicts.verdict({}, presented(client));
      assert.equal(!kept.ok && kept.code, 'revoked', 'the last good list stays in force');
    } finally {
      reloader.close();
      revocation.close();
    }
  });
});

describe('TLS_RELOAD_INTERVAL_MS', () => {
  it('defaults to one second, takes 100 to 2000 ms or off (SIGHUP only), and names itself when refused', () => {
    assert.equal(loadConfig({}).tlsReloadIntervalMs, 1000);
    assert.equal(loadConfig({ TLS_RELOAD_INTERVAL_MS: '250' }).tlsReloadIntervalMs, 250);
    assert.equal(loadConfig({ TLS_RELOAD_INTERVAL_MS: 'off' }).tlsReloadIntervalMs, undefined);
    for (const bad of ['50', '5000', 'soon', '-1']) {
      assert.throws(() => loadConfig({ TLS_RELOAD_INTERVAL_MS: bad }), (err: unknown) => err instanceof ConfigError && err.variable === 'TLS_RELOAD_INTERVAL_MS');
    }
  });
});
