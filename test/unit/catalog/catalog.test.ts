/**
 * The metric catalog is the only place a metric's name, unit, family and labels are written:
 * these tests derive every other list from it and fail when one drifts.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { alertText, formatValue } from '../../../src/catalog/format.js';
import {
  ALERT_METRICS,
  DEFAULT_ALERT_RULES,
  FAMILY_CATALOG,
  STAT_CATALOG,
  STAT_NAMES,
  statDef,
} from '../../../src/catalog/index.js';
import { FAMILIES, FAMILY_KEYS, otelInstrument } from '../../../src/catalog/families.js';
import { resolveOptions } from '../../../src/config.js';
import { MetricsCore } from '../../../src/metrics-core.js';
import { renderExposition } from '../../../src/prometheus/exposition.js';
import { DEFAULT_BUCKETS } from '../../../src/prometheus/metric-families.js';
import { HISTOGRAM_FAMILIES } from '../../../src/prometheus/rules.js';
import { SeriesStore } from '../../../src/prometheus/series-store.js';
import { createMetricsRuntime } from '../../../src/runtime.js';
import { renderSummary } from '../../../src/view/text-report.js';
import { parse } from '../../../src/wire/schema-kit.js';
import { SummarySchema } from '../../../src/wire/schema.js';
import { currentMetricsDoc, METRICS_DOC } from '../../../scripts/generate-docs.js';
import { activeAlert, summary } from '../../fixtures/overlay-page/messages.js';

const repo = new URL('../../../', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('the metric catalog', () => {
  it('names every stat once, in pipeline order, with a unit-consistent Prometheus name', () => {
    assert.deepEqual(STAT_NAMES, Object.keys(STAT_CATALOG));
    for (const name of STAT_NAMES) {
      const def = statDef(name);
      assert.match(name, /^[a-z][a-z0-9_]*$/, 'one spelling: snake_case');
      const suffix = def.unit === 'ms' ? '_seconds' : '_per_second';
      assert.ok(def.prometheus.name.endsWith(suffix), `${name}: ${def.prometheus.name}`);
      assert.ok(def.prometheus.name.startsWith('lk_agents_'));
      assert.ok(def.label.length > 0 && def.description.endsWith('.'));
    }
    for (const key of Object.keys(FAMILY_CATALOG) as (keyof typeof FAMILY_CATALOG)[]) {
      const def = FAMILY_CATALOG[key];
      assert.equal(def.prometheus.name.endsWith('_total'), def.type === 'counter', key);
    }
    const names = FAMILY_KEYS.map((k) => FAMILIES[k].name);
    assert.equal(new Set(names).size, names.length, 'no two families share a name');
  });

  it('is the only place in src/ that spells a Prometheus family name', () => {
    const catalog = join(repo, 'src/catalog/metrics.ts');
    for (const file of sourceFiles(join(repo, 'src'))) {
      if (file === catalog) continue;
      const text = readFileSync(file, 'utf8');
      for (const name of FAMILY_KEYS.map((k) => FAMILIES[k].name)) {
        assert.ok(!text.includes(name), `${file} spells ${name}; derive it from the catalog`);
      }
    }
  });

  it('derives the default alert rules and the alertable metrics', () => {
    assert.deepEqual(ALERT_METRICS, [...STAT_NAMES, 'error_rate']);
    for (const name of STAT_NAMES) {
      assert.deepEqual(DEFAULT_ALERT_RULES[name], statDef(name).alert, name);
    }
    assert.deepEqual(DEFAULT_ALERT_RULES.error_rate, { warning: 5, critical: 10 });
  });

  it('derives summary().stats: one entry per stat, by its catalog name', () => {
    const core = new MetricsCore(resolveOptions({ runtime: createMetricsRuntime({ hub: false }) }));
    const s = core.summary();
    assert.deepEqual(Object.keys(s.stats), [...STAT_NAMES]);
    assert.ok(parse(SummarySchema, JSON.parse(JSON.stringify(s))));
  });

  it('derives the wire validation: a summary with an alert on every metric is accepted', () => {
    const alerts = ALERT_METRICS.map((metric) =>
      activeAlert({ metric, ...(metric === 'error_rate' ? { component: 'llm' } : {}) }),
    );
    const parsed = parse(SummarySchema, { ...summary(), alerts });
    assert.ok(parsed);
    assert.deepEqual(
      parsed.alerts.map((a) => a.metric),
      ALERT_METRICS,
    );
  });

  it('derives the Prometheus families, the rules generator and the OpenTelemetry instruments', () => {
    assert.deepEqual(
      HISTOGRAM_FAMILIES.map((f) => [f.stat, f.name]),
      STAT_NAMES.map((n) => [n, statDef(n).prometheus.name]),
    );
    const text = renderExposition(
      {
        store: new SeriesStore(DEFAULT_BUCKETS),
        activeSessions: 0,
        peakSessions: 0,
        renderErrors: 0,
      },
      false,
    );
    for (const key of FAMILY_KEYS) {
      assert.match(text, new RegExp(`^# TYPE ${FAMILIES[key].name} ${FAMILIES[key].type}$`, 'm'));
    }
    // OpenTelemetry's Prometheus exporters append the unit's suffix: both paths meet.
    for (const key of FAMILY_KEYS) {
      const { name, unit } = otelInstrument(FAMILIES[key]);
      // a counter's `_total` comes after its unit's suffix (audio seconds counted)
      const suffix =
        (unit === 's' ? '_seconds' : unit === '{token}/s' ? '_per_second' : '') +
        (FAMILIES[key].type === 'counter' ? '_total' : '');
      assert.equal(name + suffix, FAMILIES[key].name, key);
    }
  });

  it('derives the terminal table and the alert text: labels and units from the catalog', () => {
    const table = renderSummary(summary(), undefined, { color: false });
    for (const name of STAT_NAMES) assert.ok(table.includes(statDef(name).label), name);
    assert.match(table, /LLM tokens\/s +12 +48\/s +71\/s/);
    assert.equal(formatValue('tokens_per_sec', 8), '8/s');
    assert.equal(formatValue('error_rate', 20), '20%');
    assert.equal(
      alertText(
        activeAlert({ value: 1973, raisedValue: 2412, threshold: 2000, clearThreshold: 1800 }),
      ),
      'LLM TTFT p90 1.97 s: warning since 2.41 s ≥ 2 s, clears below 1.8 s',
    );
    assert.equal(
      alertText(
        activeAlert({
          metric: 'tokens_per_sec',
          value: 8,
          raisedValue: 7.5,
          threshold: 10,
          clearThreshold: 11,
        }),
      ),
      'LLM tokens/s p90 8/s: warning since 7.5/s ≤ 10/s, clears above 11/s',
    );
    assert.equal(
      alertText(
        activeAlert({
          metric: 'error_rate',
          component: 'llm',
          value: 20,
          raisedValue: 20,
          threshold: 10,
          clearThreshold: 9,
          level: 'critical',
        }),
      ),
      'LLM error rate 20%: critical since 20% ≥ 10%, clears below 9%',
    );
  });

  it('keeps the committed tables of docs/METRICS.md current (npm run docs)', async () => {
    assert.equal(
      readFileSync(METRICS_DOC, 'utf8'),
      await currentMetricsDoc(),
      'docs/METRICS.md is stale: run `npm run docs`',
    );
  });
});
