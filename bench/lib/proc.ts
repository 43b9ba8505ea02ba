// What /proc says about one process tree now: CPU time used so far (utime + stime of
// /proc/<pid>/stat, threads included) and resident memory (VmRSS) of each process. For processes
// the bench did not start as certbound (HAProxy) and for the soak's RSS at start and end.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { processTree } from './servers.ts';

let clockTicks: number | undefined;

/** CPU seconds (user + system) used so far by `pid` and its children. */
export async function cpuSeconds(pid: number): Promise<number> {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  let ticks = 0;
  for (const p of await processTree(pid)) {
    try {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited meanwhile
    }
  }
  return ticks / clockTicks;
}

/** VmRSS in bytes of every process of the tree, the one started first. */
export async function residentBytes(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const p of await processTree(pid)) {
    try {
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${p}/status`, 'utf8'))?.[1];
      if (kb) out.push(Number(kb) * 1024);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
