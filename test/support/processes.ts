// Real processes for end-to-end tests: start an app with Node 24 and the source condition, wait
// for its "listening" log line, keep its output for assertions, and stop it with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines seen so far. */
  logs(): Array<Record<string, any>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startProcess(entry: string, env: Record<string, string>, options: { ready: RegExp; timeoutMs?: number; cwd?: string }): Promise<RunningProcess> {
  const child = spawn(process.execPath, ['--conditions=certbound-source', resolve(repoRoot, entry)], {
    cwd: options.cwd ?? repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not become ready in time:\n${out}\n${err}`)), options.timeoutMs ?? 150_000);
    const check = () => {
      if (options.ready.test(out)) { clearTimeout(timer); resolve(); }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${entry} exited with ${code} before ready:\n${out}\n${err}`)); });
  });

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
