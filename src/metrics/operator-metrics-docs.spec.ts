import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATOR_METRICS } from 'src/metrics/metrics.service';

const DOCS = join(__dirname, '..', '..', 'docs');

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}

/** Every metric name a PromQL expression reads (a histogram's `_bucket`/`_count`/`_sum` as the histogram). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:keysmith|http)_[a-z_]+)\b/g)].map(([, name]) =>
    name!.replace(/_(bucket|count|sum)$/, ''),
  );
}

/** The operator metrics are documented (operations.md#metrics) and charted (docs/grafana-dashboard.json). */
describe('operator metrics: docs and dashboard', () => {
  const operations = readFileSync(join(DOCS, 'operations.md'), 'utf8');
  const dashboard = JSON.parse(readFileSync(join(DOCS, 'grafana-dashboard.json'), 'utf8')) as Dashboard;
  const charted = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricsIn(t.expr))));

  it.each(OPERATOR_METRICS.map((name) => [name]))('operations.md lists %s', (name) => {
    expect(operations).toContain(`| \`${name}\``);
  });

  it.each(OPERATOR_METRICS.map((name) => [name]))('the dashboard charts %s', (name) => {
    expect(charted).toContain(name);
  });

  it('the dashboard reads no metric that /metrics does not expose', () => {
    const known = new Set<string>([
      ...OPERATOR_METRICS,
      'http_requests_total',
      'http_request_duration_seconds',
    ]);
    expect([...charted].filter((name) => !known.has(name))).toEqual([]);
  });
});
