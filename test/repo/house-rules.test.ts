// The house rules of DESIGN.md that a reader of the tree can check mechanically: no import cycles
// in any workspace's sources, all SQL under apps/authz-server/src/storage/, and no
// `as unknown as` casts in the code that talks to oidc-provider (oidc/types.d.ts augments its
// types instead).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, relative, resolve } from 'node:path';
import { readSources, repoRoot as root } from '../support/sources.ts';

const text = await readSources();
const files = [...text.keys()];
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

/** Relative imports, type-only ones included: a cycle of types is still a knot for the reader. */
function importsOf(file: string): string[] {
  const found: string[] = [];
  for (const match of text.get(file)!.matchAll(IMPORT)) {
    const target = resolve(dirname(file), match[1] ?? match[2]);
    if (text.has(target)) found.push(target);
  }
  return found;
}

/** Tarjan's strongly connected components; every component of more than one file is a cycle. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('house rules', () => {
  it('the cycle finder finds a cycle (so an empty answer below means something)', () => {
    const graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    assert.deepEqual(cycles(graph).map((c) => c.sort()), [['a', 'b', 'c']]);
  });

  it('no import cycles in any workspace source tree', () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const found = cycles(graph).map((c) => c.map((f) => relative(root, f)).sort());
    assert.deepEqual(found, []);
  });

  it('no SQL outside apps/authz-server/src/storage/', () => {
    const SQL = /['`"]\s*(select\s[\s\S]*?\sfrom\s|insert\s+into\s|update\s+\w+\s+set\s|delete\s+from\s|create\s+(table|index)\s)/i;
    const offenders = files
      .filter((f) => !f.startsWith(join(root, 'apps/authz-server/src/storage/')))
      .filter((f) => SQL.test(text.get(f)!))
      .map((f) => relative(root, f));
    assert.deepEqual(offenders, []);
  });

  it('no `as unknown as` in the code oidc-provider sees (oidc/)', () => {
    const offenders = files
      .filter((f) => f.startsWith(join(root, 'apps/authz-server/src/oidc/')))
      .filter((f) => text.get(f)!.includes('as unknown as'))
      .map((f) => relative(root, f));
    assert.deepEqual(offenders, []);
  });
});
