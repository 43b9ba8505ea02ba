// `npm start`: the authorization server and the demo resource server side by side, on embedded
// storage, as separate processes (exactly as they would run in production). Both get the same
// environment, so PUBLIC_PORT, MTLS_PORT and DEMO_PORT reach each of them (and the banner's
// commands follow them). Log lines of each are passed through unchanged, line by line; the
// authorization server's quick-start banner is held back until both servers have logged that they
// listen, then printed in one piece. Ctrl-C or SIGTERM stops both, and if one dies the other is
// stopped. SIGHUP goes to the authorization server alone: it reloads its TLS material.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// The project brings its runtime (the `node` devDependency, which `npm start` finds first on
// PATH), so the root package.json declares no `engines`: npm would check it against the machine's
// own Node during `npm ci` and warn. The check is here instead, against the Node that runs.
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
if (major !== 24 || minor < 11) {
  process.stderr.write(`certbound: needs Node.js >=24.11 <25, this is ${process.version}; run it with \`npm start\` (the project's own Node 24, node_modules/.bin/node)\n`);
  process.exit(1);
}

// V8 otherwise grows the young generation to ~64 MB semi-spaces on a machine with memory to
// spare; 4 MB keeps the server's RSS in budget at no measured throughput cost (bench/README.md).
const V8_FLAGS = ['--max-semi-space-size=4'];

const services: Array<{ name: string; entry: string }> = [
  { name: 'authz-server', entry: 'apps/authz-server/src/main.ts' },
  // Waits for the dev PKI the authorization server creates on its first start.
  { name: 'resource-server-demo', entry: 'apps/resource-server-demo/src/main.ts' },
];

const children: ChildProcess[] = services.map(({ entry }) =>
  spawn(process.execPath, ['--conditions=certbound-source', ...V8_FLAGS, entry], { cwd: root, stdio: ['inherit', 'pipe', 'inherit'], env: process.env }));

// The servers log JSON lines; anything else on the authorization server's stdout is the banner.
const listening = new Set<number>();
let held: string[] | undefined = [];
function release() {
  if (!held) return;
  if (held.length > 0) process.stdout.write(`${held.join('\n')}\n`);
  held = undefined;
}
function onLine(i: number, line: string) {
  const log = line.startsWith('{');
  if (held && i === 0 && !log) {
    held.push(line);
    return;
  }
  process.stdout.write(`${line}\n`);
  if (log && /"event":"listening"/.test(line)) {
    listening.add(i);
    if (listening.size === children.length) release();
  }
}
children.forEach((child, i) => {
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine(i, line);
  });
  child.stdout!.on('end', () => { if (partial) onLine(i, partial); partial = ''; });
});

let stopping = false;
function stopAll(signal: NodeJS.Signals = 'SIGTERM') {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}

let exitCode = 0;
let running = children.length;
children.forEach((child, i) => {
  child.on('close', (code, signal) => { // after its stdout has ended
    if (!stopping) {
      process.stderr.write(`certbound: ${services[i].name} exited (${signal ?? code}); stopping the others\n`);
      exitCode = code || 1;
      stopAll();
    }
    if (--running === 0) { release(); process.exit(exitCode); }
  });
});
process.once('SIGINT', () => stopAll('SIGTERM'));
process.once('SIGTERM', () => stopAll('SIGTERM'));
// The demo has no reload (and SIGHUP would end it).
process.on('SIGHUP', () => {
  if (children[0].exitCode === null) children[0].kill('SIGHUP');
});
