// `node --conditions=certbound-source bench/metrics.ts`: only the bench's "metrics on / off"
// case (lib/suite.ts metricsOverhead), for measuring it without the whole `npm run bench`.
// Same environment as run.ts (BENCH_ROUNDS, BENCH_DURATION_MS, BENCH_CONNECTIONS,
// BENCH_DATABASE_URL + BENCH_REDIS_URL, BENCH_PROFILE_DIR); prints the figures as the table's rows.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createBenchPki } from './lib/pki.ts';
import { benchOptions, metricsOverhead } from './lib/suite.ts';
import { prepareEmbeddedTemplate, startCertbound, type RunningServer, type Storage } from './lib/servers.ts';

const opts = benchOptions(process.env);
const started = Date.now();
const log = (line: string) => process.stderr.write(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${line}\n`);
const pki = await createBenchPki();
const storage: Storage = opts.external ? { kind: 'external', ...opts.external } : { kind: 'embedded' };
const servers: RunningServer[] = [];
try {
  const template = storage.kind === 'embedded' ? await prepareEmbeddedTemplate(pki) : undefined;
  const start = async (name: string, env: Record<string, string>) => {
    const nodeArgs = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(opts.profileDir, name.replace(/\W+/g, '-'))}`] : [];
    const server = await startCertbound(name, { pki, storage, workers: 1, env, nodeArgs, ...(template ? { embeddedTemplate: template } : {}) });
    servers.push(server);
    return server;
  };
  const tls = { ca: pki.serverCa.certPem, cert: pki.client.certPem, key: pki.client.keyPem };
  const { figures } = await metricsOverhead(tls, pki, opts, log, start, storage.kind === 'external' ? 'PostgreSQL + Redis, 1 worker' : 'embedded storage');
  for (const f of figures) {
    const result = f.pass === null ? '—' : f.pass ? 'PASS' : 'FAIL';
    process.stdout.write(`| ${f.label} | ${f.display} | ${f.target?.display ?? '—'} | ${result} |\n`);
  }
} finally {
  await Promise.allSettled(servers.map((s) => s.stop()));
  await pki.ocsp.close();
  await rm(pki.dir, { recursive: true, force: true });
}
