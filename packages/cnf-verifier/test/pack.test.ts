/**
 * Publishability: `npm pack` (its prepack script cleans dist and builds), check that the tarball
 * holds only dist + README + LICENSE + CHANGELOG + package.json, install it into an empty
 * `"type": "module"` project (jose from the npm cache, else the registry) and import it with
 * plain node — no certbound-source condition. On by default in `npm test` (a few seconds);
 * TEST_PACK=0 skips it on a machine that cannot reach the registry.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(packageDir, '..', '..');
// A TypeScript consumer of the published .d.ts files: every entry point, Koa and Express types
// from the optional peer dependencies. skipLibCheck is on, as in most projects, so each expected
// error below proves a type really resolved (an unresolved import would be any, and an unused
// expect-error directive fails the check).
const consumer = `
import { createVerifier, type VerifiedRequest, type VerifierOptions } from '@certbound/cnf-verifier';
import { koaAuth } from '@certbound/cnf-verifier/koa';
import { expressAuth, type AuthenticatedRequest } from '@certbound/cnf-verifier/express';
import { nodeAuth } from '@certbound/cnf-verifier/node';
const options: VerifierOptions = { issuer: 'https://as', audience: 'https://rs', origin: 'https://rs', jwks: { keys: [] } };
const verifier = createVerifier(options);
export const handlers = [koaAuth(verifier), expressAuth(verifier), nodeAuth(verifier, (_req, res) => res.end())];
export type Seen = [VerifiedRequest, AuthenticatedRequest];
// @ts-expect-error issuer is a string
export const badOptions: VerifierOptions = { issuer: 1, audience: 'https://rs' };
// @ts-expect-error a Koa middleware (from @types/koa) is not a string
export const notKoa: string = koaAuth(verifier);
// @ts-expect-error an Express handler (from @types/express) is not a string
export const notExpress: string = expressAuth(verifier);
// @ts-expect-error each adapter takes a Verifier (its .d.ts imports the package's own types)
koaAuth({});
// @ts-expect-error as above
expressAuth({});
// @ts-expect-error as above
nodeAuth({}, () => undefined);
// @ts-expect-error the verifier's result has a binding
export const noBinding: VerifiedRequest['binding'] = 'nothing';
`;
const smoke = `
import { createVerifier, InvalidTokenError, TemporarilyUnavailableError } from '@certbound/cnf-verifier';
import { koaAuth } from '@certbound/cnf-verifier/koa';
import { expressAuth } from '@certbound/cnf-verifier/express';
import { nodeAuth } from '@certbound/cnf-verifier/node';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
const token = await new SignJWT({ client_id: 'c1', scope: 'a b' }).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
  .setIssuer('https://as').setAudience('https://rs').setIssuedAt().setExpirationTime('5m').sign(privateKey);
const req = { method: 'GET', url: '/', headers: { authorization: 'Bearer ' + token }, socket: {} };
const auth = await createVerifier({ issuer: 'https://as', audience: 'https://rs', origin: 'https://rs', jwks: { keys: [jwk] }, mode: 'permissive' }).verify(req);
const refused = await createVerifier({ issuer: 'https://as', audience: 'https://rs', origin: 'https://rs', jwks: { keys: [jwk] } }).verify(req).catch((e) => e);
let noOrigin;
try { createVerifier({ issuer: 'https://as', audience: 'https://rs', jwks: { keys: [jwk] } }); } catch (e) { noOrigin = e instanceof TypeError && e.message.split(':')[0]; }
console.log(JSON.stringify({ binding: auth.binding, refused: refused instanceof InvalidTokenError && refused.status, noOrigin, unavailable: new TemporarilyUnavailableError('full', { retryAfter: 0.2 }).headers['retry-after'], adapters: [koaAuth, expressAuth, nodeAuth].map((f) => typeof f) }));
`;

/** Node binaries on PATH other than the one running this test, at or above the engines floor. */
function otherNodes(): string[] {
  const floor = (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const [fMajor, fMinor] = floor.replace(/^>=/, '').split('.').map(Number) as [number, number];
  const found = new Set<string>();
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node');
    if (!existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    if (real === realpathSync(process.execPath)) continue;
    const version = execFileSync(real, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
    const [major, minor] = version.split('.').map(Number) as [number, number];
    if (major > fMajor || (major === fMajor && minor >= fMinor)) found.add(real);
  }
  return [...found];
}

describe('npm pack yields a tarball a plain Node project installs and imports', { skip: process.env.TEST_PACK === '0' ? 'TEST_PACK=0' : false }, () => {
  it('builds, packs only what is published, installs, runs createVerifier from dist and type-checks a consumer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnf-verifier-pack-'));
    try {
      const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
      const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], packageDir)) as [{ filename: string; files: { path: string }[] }];
      const files = packed.files.map((f) => f.path).sort();
      const strays = files.filter((f) => !/^(dist\/.+\.(js|d\.ts)|README\.md|LICENSE|CHANGELOG\.md|package\.json)$/.test(f));
      assert.deepEqual(strays, [], 'only dist, README.md, LICENSE, CHANGELOG.md and package.json are published');
      for (const f of ['LICENSE', 'CHANGELOG.md', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/adapters/koa.d.ts']) assert.ok(files.includes(f), `${f} is published`);
      const app = join(dir, 'app');
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
      writeFileSync(join(app, 'smoke.js'), smoke);
      npm(['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed.filename)], app);
      // process.execPath is the Node running this test; no --conditions flag is passed on.
      const out = execFileSync(process.execPath, ['smoke.js'], { cwd: app, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      const expected = { binding: 'bearer', refused: 401, noOrigin: 'origin', unavailable: '1', adapters: ['function', 'function', 'function'] };
      assert.deepEqual(JSON.parse(out), expected);
      // package.json's engines floor (>=20.19) is what a consumer's own Node may be: every other
      // Node on this machine at or above it (Debian's, here) runs the same smoke test.
      for (const other of otherNodes()) {
        const answer = execFileSync(other, ['smoke.js'], { cwd: app, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
        assert.deepEqual(JSON.parse(answer), expected, `smoke test under ${other}`);
      }

      // The .d.ts files serve a strict consumer. @types (node, koa, express) comes from this
      // repository, linked in rather than installed.
      symlinkSync(join(repoRoot, 'node_modules', '@types'), join(app, 'node_modules', '@types'), 'dir');
      writeFileSync(join(app, 'consumer.ts'), consumer);
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, module: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: true, types: ['node'] },
        files: ['consumer.ts'],
      }));
      const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
      execFileSync(process.execPath, [tsc, '-p', app], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
