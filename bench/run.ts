// `npm run bench`: the performance figures of certbound against the bare oidc-provider baseline,
// each with its target. Writes bench/results/latest.json and prints a Markdown table; progress
// goes to stderr. Environment:
//   BENCH_DATABASE_URL, BENCH_REDIS_URL   also run on PostgreSQL + Redis (a fresh schema per server)
//   BENCH_SIZE=smoke                       a tiny run that proves the harness works (seconds)
//   BENCH_ROUNDS, BENCH_DURATION_MS, BENCH_CONNECTIONS   override the defaults (3, 5000, 32)
//   BENCH_PROFILE_DIR                      write --cpu-prof profiles of the servers there
//   BENCH_OUT                              where to write the JSON (default bench/results/latest.json)
// `npm run bench -- proxy` runs bench/proxy.ts instead, `npm run bench -- soak` bench/soak.ts.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchOptions, renderMarkdown, runBench } from './lib/suite.ts';

const only = process.argv[2];
if (only === 'proxy' || only === 'soak') {
  await import(only === 'proxy' ? './proxy.ts' : './soak.ts');
  process.exit(0);
}
if (only !== undefined) throw new Error(`npm run bench -- ${only}: unknown case (proxy, soak, or nothing for the whole bench)`);
const out = resolve(process.env.BENCH_OUT ?? fileURLToPath(new URL('results/latest.json', import.meta.url)));
const options = benchOptions(process.env);
const report = await runBench(options, (line) => process.stderr.write(`${line}\n`));
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(renderMarkdown(report));
process.stderr.write(`results written to ${out}\n`);
