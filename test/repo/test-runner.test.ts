// `npm test` runs every file with --test-force-exit (a test file that leaves a handle open must
// not hang CI), which on Linux silently drops the tail of a file's results (nodejs/node#64833):
// the runner reported 1 816 of 1 821 tests, all passing, in two CI runs. This runs `npm test`'s
// own runner flags over files with many long-named tests and asserts every result arrives.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const FILES = 6;
const TESTS = 200;

/** The flags `npm test` gives `node` for the test run: from the test script, without the file globs. */
async function runnerFlags(): Promise<string[]> {
  const script = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: { test: string } }).scripts.test;
  const run = script.split('&&').map((part) => part.trim()).find((part) => part.startsWith('node ') && part.includes('--test'));
  assert.ok(run, 'npm test runs node --test');
  return run.split(/\s+/).slice(1).filter((arg) => !arg.startsWith('"'));
}

it(`every result of every file reaches the runner under npm test's flags (${FILES} files × ${TESTS} tests)`, async () => {
  const flags = await runnerFlags();
  assert.ok(flags.includes('--test-force-exit'), 'this test guards the force-exit path');
  const dir = await mkdtemp(join(tmpdir(), 'certbound-runner-'));
  try {
    const files: string[] = [];
    for (let f = 0; f < FILES; f++) {
      const body = Array.from({ length: TESTS }, (_, i) => `test('t${i} ' + 'x'.repeat(2000), () => {});`).join('\n');
      files.push(join(dir, `f${f}.test.mjs`));
      await writeFile(files.at(-1)!, `import { test } from 'node:test';\n${body}\n`);
    }
    // The runner's own report goes to a file (a file destination is flushed before a forced exit;
    // this test is about what the files' processes send the runner, not the runner's stdout).
    const report = join(dir, 'report.tap');
    await promisify(execFile)(process.execPath, [...flags, '--test-reporter=tap', `--test-reporter-destination=${report}`, ...files], {
      cwd: root, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_TEST_CONTEXT: undefined },
    });
    const stdout = await readFile(report, 'utf8');
    assert.equal(/^# tests (\d+)$/m.exec(stdout)?.[1], String(FILES * TESTS));
    assert.equal(/^# pass (\d+)$/m.exec(stdout)?.[1], String(FILES * TESTS));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
