// `npm start`: the authorization server and the demo resource server side by side, on embedded
// storage, as separate processes (exactly as they would run in production). Output of each is
// passed through unchanged; Ctrl-C or SIGTERM stops both, and if one dies the other is stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// V8 otherwise grows the young generation to ~64 MB semi-spaces on a machine with memory to
// spare; 4 MB keeps the server's RSS in budget at no measured throughput cost (bench/README.md).
const V8_FLAGS = ['--max-semi-space-size=4'];

const services: Array<{ name: string; entry: string }> = [
  { name: 'authz-server', entry: 'apps/authz-server/src/main.ts' },
  // Waits for the dev PKI the authorization server creates on its first start.
  { name: 'resource-server-demo', entry: 'apps/resource-server-demo/src/main.ts' },
];

const children: ChildProcess[] = services.map(({ entry }) =>
  spawn(process.execPath, ['--conditions=certbound-source', ...V8_FLAGS, entry], { cwd: root, stdio: 'inherit', env: process.env }));

let stopping = false;
function stopAll(signal: NodeJS.Signals = 'SIGTERM') {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}

let exitCode = 0;
let running = children.length;
children.forEach((child, i) => {
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`certbound: ${services[i]!.name} exited (${signal ?? code}); stopping the others\n`);
      exitCode = code || 1;
      stopAll();
    }
    if (--running === 0) process.exit(exitCode);
  });
});
process.once('SIGINT', () => stopAll('SIGTERM'));
process.once('SIGTERM', () => stopAll('SIGTERM'));
