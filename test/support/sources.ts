// The TypeScript sources of every workspace, read once, for the tests that check house rules on
// the tree itself (test/repo/house-rules.test.ts, test/repo/one-vocabulary.test.ts).
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SOURCE_ROOTS = ['apps/authz-server/src', 'apps/resource-server-demo/src', 'packages/cnf-verifier/src'];

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...await walk(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Absolute path → contents of every .ts file under SOURCE_ROOTS. */
export async function readSources(): Promise<Map<string, string>> {
  const files = (await Promise.all(SOURCE_ROOTS.map((r) => walk(join(repoRoot, r))))).flat();
  return new Map(await Promise.all(files.map(async (f) => [f, await readFile(f, 'utf8')] as const)));
}
