#!/usr/bin/env node
// The `certbound` command. certbound's sources are TypeScript run by Node 24's type stripping,
// but whatever `node` is first on PATH may be older, so this shim (plain JS, fine on any Node
// >= 18) re-runs src/cli/main.ts with the Node 24 the workspace installs (devDependency "node"),
// falling back to the current binary. argv, stdio, signals and the exit status pass through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url)); // real path: node resolves the .bin symlink
const cli = join(here, '..', 'src', 'cli', 'main.ts');

function findNode() {
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', 'node', 'bin', 'node');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return process.execPath;
  }
}

const child = spawn(findNode(), ['--conditions=certbound-source', cli, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('error', (error) => {
  process.stderr.write(`certbound: cannot start node: ${error.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
