// `npm run bench` at a tiny size (BENCH_SIZE=smoke, embedded storage): proves the harness —
// certificates made at run time, the OCSP responder they name, the servers, the load generator,
// the verifier and parser micro-benchmarks, the JSON and the table — works end to end. It asserts
// structure, never timings.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/processes.ts';
import type { BenchReport } from '../../bench/lib/suite.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** bench/run.ts's BENCH_OUT file, when it exited 0 */
  report: BenchReport;
}

async function runSmokeBench(): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'certbound-bench-smoke-'));
  const out = join(dir, 'latest.json');
  try {
    const child = spawn(process.execPath, ['--conditions=certbound-source', 'bench/run.ts'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', BENCH_SIZE: 'smoke', BENCH_OUT: out },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const report = (code === 0 ? JSON.parse(await readFile(out, 'utf8')) : undefined) as BenchReport;
    return { code, stdout, stderr, report };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('npm run bench (smoke size)', () => {
  let run: Run;
  before(async () => { run = await runSmokeBench(); });

  it('exits 0 and writes the JSON report', () => {
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    assert.equal(run.report.version, 1);
    assert.equal(run.report.settings.size, 'smoke');
    assert.deepEqual(run.report.settings.storage, ['embedded']);
    assert.ok(run.report.machine.nproc >= 1);
    assert.equal(typeof run.report.machine.cpuModel, 'string');
  });

  it('reports every figure, with a target where the issue sets one', () => {
    const ids = run.report.figures.map((f) => f.id);
    for (const id of ['token.keepalive.baseline', 'token.keepalive.embedded', 'token.full.baseline', 'token.resumed.baseline',
      'token.full.certbound', 'token.resumed.certbound', 'token.resumed_vs_full', 'verifier.jwtverify', 'verifier.mtls',
      'verifier.dpop', 'growth.clients', 'growth.cas', 'growth.jwks', 'rss.embedded', 'rss.baseline',
      'revocation.keepalive.off', 'revocation.keepalive.soft', 'revocation.keepalive', 'revocation.full.off', 'revocation.full.soft',
      'revocation.full', 'revocation.ocsp_fetches', 'revocation.cold_fetch', 'revocation.responder_down', 'parser.new_connection', 'parser.cold',
      'metrics.keepalive.off', 'metrics.keepalive.on', 'metrics.keepalive']) {
      assert.ok(ids.includes(id), `figure ${id}`);
    }
    const targeted = {
      'token.resumed_vs_full': '>=', 'verifier.mtls': '<=', 'verifier.dpop': '<=', 'growth.clients': '<=', 'growth.cas': '<=', 'growth.jwks': '<=',
      'revocation.keepalive': '<=', 'parser.new_connection': '<=', 'metrics.keepalive': '<=',
    };
    for (const [id, op] of Object.entries(targeted)) {
      const figure = run.report.figures.find((f) => f.id === id);
      assert.equal(figure?.target?.op, op, id);
      assert.ok(figure?.pass === true || figure?.pass === false || figure?.pass === null, id);
    }
    for (const id of ['revocation.full', 'parser.cold']) {
      assert.equal(run.report.figures.find((f) => f.id === id)?.target, undefined, `${id} is reported without a target`);
    }
    for (const figure of run.report.figures) {
      assert.equal(typeof figure.label, 'string');
      assert.equal(typeof figure.display, 'string');
    }
  });

  it('checked revocation against the OCSP responder the client certificate names, and timed both certificate parsers', () => {
    for (const id of ['revocation.keepalive.off', 'revocation.keepalive.soft', 'revocation.full.off', 'revocation.full.soft']) {
      const scenario = run.report.scenarios[id];
      assert.ok(scenario.requests > 0, `${id} completed requests`);
      assert.equal(scenario.errors, 0, `${id}: ${scenario.firstError}`);
      assert.equal(typeof scenario.serverCpuUsPerRequest, 'number', id);
    }
    const revocation = run.report.revocation;
    for (const key of ['fetchesInRun', 'serversWithRevocation', 'fetchesBySoftServer', 'fetchesByOffServer', 'fetchesWhileMeasuring', 'responderErrors'] as const) {
      assert.equal(typeof revocation[key], 'number', key);
    }
    assert.equal(revocation.responderDown.status, 200, 'soft mode lets a certificate through when its responder is down');
    for (const name of ['X509Certificate only', 'new, seen before', 'old, seen before', 'new, first sight', 'old, first sight'] as const) {
      assert.equal(typeof run.report.parser.cases[name].usPerOp, 'number', name);
    }
  });

  it('drove real token requests against both servers and resumed TLS sessions', () => {
    for (const id of ['keepalive.baseline', 'keepalive.embedded', 'full.certbound', 'resumed.certbound']) {
      const scenario = run.report.scenarios[id];
      assert.ok(scenario.requests > 0, `${id} completed requests`);
      assert.equal(scenario.errors, 0, `${id}: ${scenario.firstError}`);
    }
    assert.equal(run.report.scenarios['full.certbound'].resumedFraction, 0);
    assert.ok((run.report.scenarios['resumed.certbound'].resumedFraction ?? 0) > 0);
  });

  it('prints a Markdown table with one line per figure and its result', () => {
    const rows = run.stdout.split('\n').filter((line) => /^\| \d+ \|/.test(line));
    assert.equal(rows.length, run.report.figures.length);
    assert.match(run.stdout, /\| # \| figure \| value \| target \| result \|/);
    for (const row of rows) assert.match(row, /\| (PASS|FAIL|—|n\/a) \|$/);
  });
});
