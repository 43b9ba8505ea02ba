// The operator kit in deploy/ works as shipped: the Prometheus alert rules pass `promtool check
// rules` and their unit tests (`promtool test rules`, Debian package prometheus; skipped with a
// message when promtool is not installed), the alerts issue 12 asks for exist, the Grafana dashboard
// parses, and every metric either file queries is one certbound exposes — so a renamed metric
// cannot leave an alert silently watching nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { METRIC_NAMES } from '../../apps/authz-server/src/ops/metrics.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PROMETHEUS_DIR = join(root, 'deploy/prometheus');
const DASHBOARD = join(root, 'deploy/grafana/certbound.json');
const run = promisify(execFile);

/**
 * The metrics certbound exposes: every name ops/metrics.ts defines (METRIC_NAMES), plus the
 * prom-client process and event-loop metrics the dashboard reads.
 */
const EXPOSED = new Set<string>([...Object.values(METRIC_NAMES), 'nodejs_eventloop_lag_p99_seconds', 'process_resident_memory_bytes']);

const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan',
  // aggregation operators, which may take their `by (...)` before the parenthesis
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);

/** The metric names a PromQL expression selects: identifiers that are not functions, keywords or labels. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // string literals
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range and subquery durations ($__rate_interval too)
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1'); // label lists
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![a-zA-Z0-9_:]|\s*\()/g)) {
    const name = m[1];
    if (!KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

function exposed(name: string): boolean {
  return EXPOSED.has(name) || (HISTOGRAM_SERIES.test(name) && EXPOSED.has(name.replace(HISTOGRAM_SERIES, '')));
}

async function promtool(): Promise<string | false> {
  try {
    await run('promtool', ['--version']);
    return false;
  } catch {
    return 'promtool is not installed (Debian: apt-get install --no-install-recommends prometheus): its rule checks are skipped';
  }
}
const SKIP_PROMTOOL = await promtool();

interface Rule { alert?: string; expr: string; for?: string; labels?: Record<string, string> }
const rules: Rule[] = (parseYaml(await readFile(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Rule[] }> })
  .groups.flatMap((g) => g.rules);

describe('metricNames', () => {
  it('finds the selected metrics and nothing else', () => {
    assert.deepEqual(metricNames('sum by (reason) (rate(certbound_token_requests_total{outcome="refused", x="a{b}"}[5m])) / ignoring (reason) group_left sum(rate(foo_total[$__rate_interval])) > 0.1 and bar < 1e9'),
      ['certbound_token_requests_total', 'foo_total', 'bar']);
    assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le, store) (rate(x_bucket[5m])))'), ['x_bucket']);
    assert.deepEqual(metricNames('certbound_server_certificate_expiry_timestamp_seconds - time() < 14 * 86400'), ['certbound_server_certificate_expiry_timestamp_seconds']);
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules', { skip: SKIP_PROMTOOL }, async () => {
    const { stdout } = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: PROMETHEUS_DIR });
    assert.match(stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it('passes its unit tests (promtool test rules alerts.test.yml)', { skip: SKIP_PROMTOOL }, async () => {
    const { stdout } = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: PROMETHEUS_DIR });
    assert.match(stdout, /SUCCESS/);
  });

  it('has the alerts issue 12 asks for, each on the metric it names', () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    const expect = (alert: string, pattern: RegExp) => {
      const rule = byName.get(alert);
      assert.ok(rule, `alert ${alert} is missing`);
      assert.match(rule.expr.replace(/\s+/g, ' '), pattern, alert);
      assert.ok(rule.labels?.['severity'], `${alert} has a severity`);
    };
    expect('CertboundClientCertificateExpiringIn30Days', /certbound_client_certificate_expiry_timestamp_seconds - time\(\) < 30 \* 86400/);
    expect('CertboundClientCertificateExpiringIn7Days', /certbound_client_certificate_expiry_timestamp_seconds - time\(\) < 7 \* 86400/);
    expect('CertboundServerCertificateExpiringIn14Days', /certbound_server_certificate_expiry_timestamp_seconds - time\(\) < 14 \* 86400/);
    expect('CertboundTokenRefusalsHigh', /sum by \(reason\) \(rate\(certbound_token_requests_total\{outcome="refused"\}/);
    expect('CertboundRevocationSourceFailing', /certbound_revocation_checks_total\{outcome="error"\}/);
    expect('CertboundStoreUnreachable', /sum by \(store, cause\) \(increase\(certbound_store_errors_total/);
  });

  it('queries only metrics certbound exposes', () => {
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      assert.ok(names.length > 0, `${rule.alert} selects no metric`);
      for (const name of names) assert.ok(exposed(name), `${rule.alert} queries ${name}, which certbound does not expose`);
    }
  });
});

describe('deploy/grafana/certbound.json', () => {
  it('parses as a dashboard whose every panel queries only metrics certbound exposes', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
      title: string; uid: string; panels: Array<{ id: number; type: string; title: string; targets?: Array<{ expr: string; refId: string }> }>;
    };
    assert.equal(dashboard.title, 'certbound');
    assert.ok(dashboard.uid);
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    const queried = new Set<string>();
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      assert.ok(panel.targets && panel.targets.length > 0, `panel "${panel.title}" has no query`);
      for (const target of panel.targets) {
        const names = metricNames(target.expr);
        assert.ok(names.length > 0, `panel "${panel.title}" query ${target.refId} selects no metric`);
        for (const name of names) {
          assert.ok(exposed(name), `panel "${panel.title}" queries ${name}, which certbound does not expose`);
          queried.add(name.replace(HISTOGRAM_SERIES, ''));
        }
      }
    }
    // The panels issue 12 asks for: expiry, refusals by reason, token rate, revocation checks, store latency.
    for (const name of ['certbound_client_certificate_expiry_timestamp_seconds', 'certbound_server_certificate_expiry_timestamp_seconds',
      'certbound_token_requests_total', 'certbound_revocation_checks_total', 'certbound_store_operation_duration_seconds']) {
      assert.ok(queried.has(name), `no panel shows ${name}`);
    }
    assert.ok(dashboard.panels.some((p) => p.targets?.some((t) => /sum by \(reason\)/.test(t.expr) && t.expr.includes('outcome="refused"'))), 'a panel shows refusals by reason');
  });
});
