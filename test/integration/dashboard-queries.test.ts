/**
 * Every PromQL query of the Grafana dashboard parses (promtool checks each as a recording rule,
 * Grafana's variables replaced by what Grafana would put there) and names only metrics and
 * labels that exist: a typo in a dashboard query fails here, not on someone's screen.
 * dashboard-data.test.ts then runs each one against a real Prometheus holding the plugin's data.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FAMILIES } from '../../src/prometheus/metric-families.js';
import { buildPrometheusRules } from '../../src/prometheus/rules.js';
import { toYaml } from '../../src/prometheus/rules.js';
import {
  DASHBOARD_PATH,
  prepareQuery,
  readDashboard,
  viewing,
} from '../support/grafana-queries.js';
import { promtool, repoRoot } from '../support/prometheus-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'lkam-dashboard-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every `expr` in the dashboard (panel targets, and any nested ones), with where it is. */
function queries(node: unknown, path = '$'): { path: string; expr: string }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => queries(item, `${path}[${i}]`));
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === 'expr' && typeof value === 'string'
      ? [{ path, expr: value }]
      : queries(value, `${path}.${key}`),
  );
}

const dashboard = readDashboard();
const all = queries(JSON.parse(readFileSync(join(repoRoot, DASHBOARD_PATH), 'utf8')));

describe('the Grafana dashboard queries', () => {
  it('has queries, all in panel targets', () => {
    assert.ok(all.length >= 20, `${all.length} queries`);
    assert.equal(dashboard.queries.length, all.length);
  });

  it('all parse as PromQL (promtool check rules)', () => {
    const file = {
      groups: [
        {
          name: 'dashboard',
          rules: dashboard.queries.map((q, i) => ({
            record: `dashboard:query_${i}`,
            expr: prepareQuery(q, viewing(dashboard, { job: '.*' })).expr,
          })),
        },
      ],
    };
    const path = join(dir, 'dashboard-queries.yml');
    writeFileSync(path, toYaml(file));
    const run = promtool(['check', 'rules', path]);
    // promtool names the failing rule by index: map it back to the dashboard.
    const failing = [...run.output.matchAll(/dashboard:query_(\d+)/g)].map(
      ([, i]) => dashboard.queries[Number(i)]!.where,
    );
    assert.equal(run.status, 0, `${run.output}\n${failing.join('\n')}`);
    assert.match(run.output, new RegExp(`SUCCESS: ${all.length} rules found`));
  });

  it('name only metrics the exporter exposes or the rules record', () => {
    const known = new Set<string>();
    for (const family of Object.values(FAMILIES)) {
      known.add(family.name);
      if (family.type === 'histogram') {
        for (const suffix of ['_bucket', '_sum', '_count']) known.add(family.name + suffix);
      }
    }
    for (const group of buildPrometheusRules().groups) {
      for (const rule of group.rules) if ('record' in rule) known.add(rule.record);
    }
    for (const { path, expr } of all) {
      for (const [name] of expr.matchAll(/\blk_agents[a-z0-9_:]*/g)) {
        assert.ok(known.has(name), `${path}: unknown metric ${name}`);
      }
    }
  });

  it('group and filter only by labels the series carry', () => {
    const labels = new Set(['le', 'job', 'instance']);
    for (const family of Object.values(FAMILIES)) for (const l of family.labelNames) labels.add(l);
    for (const { path, expr } of all) {
      for (const [, list] of expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) {
        for (const label of list!.split(',').map((l) => l.trim())) {
          assert.ok(labels.has(label), `${path}: unknown label ${label}`);
        }
      }
      for (const [, matchers] of expr.matchAll(/\{([^{}]*)\}/g)) {
        for (const [, label] of matchers!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) {
          assert.ok(labels.has(label!), `${path}: unknown label ${label}`);
        }
      }
    }
  });
});
