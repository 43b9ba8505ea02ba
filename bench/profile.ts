// Summarizes a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, and
// the share of time spent under each package or certbound folder.
//   node bench/profile.ts CPU.*.cpuprofile [--top 25] [--requests N]
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  if (url === '') return '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  const own = /\/(apps\/[^/]+\/src\/[^/]+|packages\/[^/]+\/src|bench)\//.exec(url)?.[1];
  if (own) return own;
  if (url.startsWith('node:')) return url.split('/')[0];
  return url.replace(/^file:\/\//, '');
}

/** `requests`: also show each line as µs per request (the load the profile was taken under). */
export async function summarize(file: string, top = 25, requests = 0): Promise<string> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const nameOf = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName || '(anonymous)'} ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
  };

  let idle = 0;
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const name = nameOf(node);
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const place = functionName === '(garbage collector)' ? '(gc)' : where(url);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
    // Inclusive time: every function on the stack, once per sample.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = nameOf(byId.get(at)!);
      if (!seen.has(n)) {
        seen.add(n);
        inclusive.set(n, (inclusive.get(n) ?? 0) + us);
      }
    }
  }
  const busy = [...byFunction.values()].reduce((a, b) => a + b, 0);
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%${requests ? ` ${(us / requests).toFixed(1).padStart(7)} µs/req` : ''}`;
  const lines = [`${file}: ${(busy / 1e6).toFixed(2)} s busy${requests ? ` (${(busy / requests).toFixed(0)} µs per request)` : ''}, ${(idle / 1e6).toFixed(2)} s idle; shares of busy time`, '', 'self time by place:'];
  for (const [place, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${pct(us)}  ${place}`);
  lines.push('', 'self time by function:');
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${name}`);
  lines.push('', 'inclusive time by function (certbound and oidc-provider code):');
  const interesting = [...inclusive].filter(([name]) => /apps\/|packages\/|oidc-provider|koa|jose|pg |ioredis/.test(name));
  for (const [name, us] of interesting.sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${name}`);
  return lines.join('\n');
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
  const perAt = args.indexOf('--requests');
  const requests = perAt >= 0 ? Number(args.splice(perAt, 2)[1]) : 0;
  for (const file of args) process.stdout.write(`${await summarize(file, top, requests)}\n\n`);
}
