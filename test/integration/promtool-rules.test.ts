/**
 * The generated rules as Prometheus itself reads and evaluates them: `promtool check rules` on
 * the default and a custom file, and `promtool test rules` on synthetic histogram and counter
 * series, proving each alert fires just past its threshold and not just short of it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildPrometheusRules,
  generatePrometheusRules,
  type PrometheusRule,
  type PrometheusRulesOptions,
} from '../../src/prometheus/rules.js';
import { toYaml } from '../../src/prometheus/rules.js';
import { ensurePrometheusTools, promtool, repoRoot } from '../support/prometheus-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'lkam-promtool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CUSTOM: PrometheusRulesOptions = {
  alerts: {
    stt_latency: false,
    ttlt: { warning: 3000, critical: 6000 },
    tts_latency: { warning: 800, critical: 1500 },
    function_execution: { warning: 1000, critical: 5000 },
    e2e_latency: { warning: 1234, critical: 2500.5 },
    tokens_per_sec: { warning: 20, critical: 10 },
  },
  alertWindowMs: 90_500,
  for: '1m30s',
  groupBy: ['agent_name', 'provider'],
  alertMinRequests: 3,
};

/** How many rules the generator writes (a recording rule per quantile of every stat of the
 * catalog, the error ratio, and two alerts per rule). */
const ruleCount = (options?: PrometheusRulesOptions) =>
  buildPrometheusRules(options).groups.reduce((n, g) => n + g.rules.length, 0);

function writeRules(name: string, options?: PrometheusRulesOptions): string {
  const path = join(dir, name);
  writeFileSync(path, generatePrometheusRules(options));
  return path;
}

/** The annotations Prometheus should render for an alert, given what its templates print. */
function rendered(
  rule: Extract<PrometheusRule, { alert: string }>,
  values: Record<string, string>,
): Record<string, string> {
  const expand = (template: string) =>
    template
      .replace(/\{\{ \$value(?: \| \w+)? \}\}/g, values.$value!)
      .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, label: string) => values[label] ?? '');
  return Object.fromEntries(
    Object.entries(rule.annotations).map(([key, template]) => [key, expand(template)]),
  );
}

function alertRule(options: PrometheusRulesOptions, name: string, severity: string) {
  const rule = buildPrometheusRules(options)
    .groups.flatMap((g) => g.rules)
    .find((r) => 'alert' in r && r.alert === name && r.labels.severity === severity);
  assert.ok(rule && 'alert' in rule, `${name}/${severity}`);
  return rule;
}

/** Cumulative bucket counters that grow by `perMinute[le]` a minute, for 15 minutes. */
function histogramSeries(
  family: string,
  labels: Record<string, string>,
  perMinute: Record<string, number>,
) {
  const selector = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return Object.entries(perMinute).map(([le, n]) => ({
    series: `${family}_bucket{${selector},le="${le}"}`,
    values: `0+${n}x15`,
  }));
}

/** Bucket increments a minute (of 100 observations) that put the p90 where the name says. */
const TTFT_SCENARIOS: Record<string, [p90Ms: number, buckets: Record<string, number>]> = {
  // 1.5 + 0.5 * (90 - 81) / (91 - 81)
  'p90-1950ms': [1950, { '1': 50, '1.5': 81, '2': 91, '2.5': 100, '3.5': 100, '+Inf': 100 }],
  // 2 + 0.5 * (90 - 89) / (99 - 89)
  'p90-2050ms': [2050, { '1': 50, '1.5': 80, '2': 89, '2.5': 99, '3.5': 100, '+Inf': 100 }],
  // 3 + 0.5 * (90 - 81) / (91 - 81)
  'p90-3450ms': [3450, { '1': 50, '2.5': 70, '3': 81, '3.5': 91, '5': 100, '+Inf': 100 }],
  // 3.5 + 1.5 * (90 - 88) / (100 - 88)
  'p90-3750ms': [3750, { '1': 50, '2.5': 70, '3.5': 88, '5': 100, '+Inf': 100 }],
};

/** Tokens per second, lower is worse (custom rule: warning below 20, critical below 10). */
const TOKEN_SCENARIOS: Record<string, [p90: number, buckets: Record<string, number>]> = {
  // 20 + 10 * (90 - 80) / (100 - 80)
  'p90-25': [25, { '10': 40, '20': 80, '30': 100, '+Inf': 100 }],
  // 10 + 10 * (90 - 80) / (100 - 80)
  'p90-15': [15, { '5': 40, '10': 80, '20': 100, '+Inf': 100 }],
  // 5 + 5 * (90 - 50) / (100 - 50)
  'p90-9': [9, { '5': 50, '10': 100, '+Inf': 100 }],
};

describe('the generated rules under promtool', () => {
  before(() => {
    const { version } = ensurePrometheusTools();
    console.log(`promtool ${version}`);
  });

  it('has the prometheus server binary beside promtool, of the same version', () => {
    const { prometheus, version } = ensurePrometheusTools();
    assert.match(
      execFileSync(prometheus, ['--version'], { encoding: 'utf8' }),
      new RegExp(`version ${version.replace(/[+.]/g, '\\$&')}`),
    );
  });

  it('passes promtool check rules with the defaults', () => {
    const run = promtool(['check', 'rules', writeRules('default.yml')]);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${ruleCount()} rules found`));
  });

  it('passes promtool check rules with every alert, a compound window and groupBy', () => {
    const run = promtool(['check', 'rules', writeRules('custom.yml', CUSTOM)]);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${ruleCount(CUSTOM)} rules found`));
  });

  it('fires LkAgentsTtftP90High past 2 s and 3.5 s, not just short of them, after `for`', () => {
    writeRules('default.yml');
    const labels = (model: string) => ({ provider: 'fake', model });
    const warning = alertRule({}, 'LkAgentsTtftP90High', 'warning');
    const critical = alertRule({}, 'LkAgentsTtftP90High', 'critical');
    const firing = (model: string, rule: typeof warning, value: string) => ({
      exp_labels: { ...labels(model), severity: rule.labels.severity! },
      exp_annotations: rendered(rule, { ...labels(model), $value: value }),
    });
    const errors = errorRateSeries();
    const test: unknown = {
      rule_files: ['default.yml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            ...Object.entries(TTFT_SCENARIOS).flatMap(([model, [, buckets]]) =>
              histogramSeries('lk_agents_llm_ttft_seconds', labels(model), buckets),
            ),
            ...errors.series,
          ],
          promql_expr_test: [
            {
              // The synthetic buckets put the recorded p90 where each scenario's name says.
              expr: 'round(1000 * lk_agents:llm_ttft_seconds:p90_rate5m)',
              eval_time: '10m',
              exp_samples: Object.entries(TTFT_SCENARIOS).map(([model, [p90Ms]]) => ({
                labels: `{provider="fake",model="${model}"}`,
                value: p90Ms,
              })),
            },
            {
              expr: 'round(1000 * lk_agents:error_rate:ratio_rate5m)',
              eval_time: '10m',
              exp_samples: errors.ratios,
            },
          ],
          alert_rule_test: [
            // True from 1m (the first rate), so still pending at 2m with `for: 2m`.
            { alertname: 'LkAgentsTtftP90High', eval_time: '2m', exp_alerts: [] },
            {
              alertname: 'LkAgentsTtftP90High',
              eval_time: '10m',
              exp_alerts: [
                firing('p90-2050ms', warning, '2.05s'),
                firing('p90-3450ms', warning, '3.45s'),
                firing('p90-3750ms', warning, '3.75s'),
                firing('p90-3750ms', critical, '3.75s'),
              ],
            },
            { alertname: 'LkAgentsErrorRateHigh', eval_time: '10m', exp_alerts: errors.alerts },
            { alertname: 'LkAgentsSttLatencyP90High', eval_time: '10m', exp_alerts: [] },
          ],
        },
      ],
    };
    const path = join(dir, 'default.test.yml');
    writeFileSync(path, toYaml(test));
    const run = promtool(['test', 'rules', path], dir);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS/);
  });

  it('fires the lower-is-worse tokens_per_sec alert below its thresholds (custom rules)', () => {
    writeRules('custom.yml', CUSTOM);
    const labels = (model: string) => ({ provider: 'fake', model, agent_name: 'support' });
    const warning = alertRule(CUSTOM, 'LkAgentsTokensPerSecP90Low', 'warning');
    const critical = alertRule(CUSTOM, 'LkAgentsTokensPerSecP90Low', 'critical');
    const firing = (model: string, rule: typeof warning, value: string) => ({
      exp_labels: { ...labels(model), severity: rule.labels.severity! },
      exp_annotations: rendered(rule, { ...labels(model), $value: value }),
    });
    const test: unknown = {
      rule_files: ['custom.yml'],
      evaluation_interval: '30s',
      tests: [
        {
          interval: '30s',
          input_series: Object.entries(TOKEN_SCENARIOS).flatMap(([model, [, buckets]]) =>
            histogramSeries('lk_agents_llm_tokens_per_second', labels(model), buckets),
          ),
          promql_expr_test: [
            {
              expr: 'round(lk_agents:llm_tokens_per_second:p90_rate1m30s500ms)',
              eval_time: '6m',
              exp_samples: Object.entries(TOKEN_SCENARIOS).map(([model, [p90]]) => ({
                labels: `{agent_name="support",provider="fake",model="${model}"}`,
                value: p90,
              })),
            },
          ],
          alert_rule_test: [
            {
              alertname: 'LkAgentsTokensPerSecP90Low',
              eval_time: '6m',
              exp_alerts: [
                firing('p90-15', warning, '15'),
                firing('p90-9', warning, '9'),
                firing('p90-9', critical, '9'),
              ],
            },
          ],
        },
      ],
    };
    const path = join(dir, 'custom.test.yml');
    writeFileSync(path, toYaml(test));
    const run = promtool(['test', 'rules', path], dir);
    assert.equal(run.status, 0, run.output);
  });

  it('accepts the example Prometheus configuration with the generated rules file beside it', () => {
    copyFileSync(join(repoRoot, 'examples/prometheus/prometheus.yml'), join(dir, 'prometheus.yml'));
    writeFileSync(join(dir, 'rules.yml'), generatePrometheusRules());
    const run = promtool(['check', 'config', join(dir, 'prometheus.yml')]);
    assert.equal(run.status, 0, run.output);
    const count = buildPrometheusRules().groups.reduce((n, g) => n + g.rules.length, 0);
    assert.match(run.output, new RegExp(`SUCCESS: ${count} rules found`));
  });
});

/**
 * Request and error counters per component (a minute's increments): llm fails 10.5% (warning
 * and critical), tts 9.5% (warning only), stt never (no error series at all: the ratio reads 0),
 * and function 100% of too few requests (half a request a minute, below alertMinRequests).
 */
function errorRateSeries() {
  const components: [component: string, requests: number, errors: number | undefined][] = [
    ['llm', 100, 10.5],
    ['tts', 100, 9.5],
    ['stt', 100, undefined],
    ['function', 0.5, 0.5],
  ];
  const series = components.flatMap(([component, requests, errors]) => {
    const labels = `component="${component}",provider="fake",model="m"`;
    const out = [{ series: `lk_agents_requests_total{${labels}}`, values: `0+${requests}x15` }];
    if (errors !== undefined) {
      out.push({ series: `lk_agents_errors_total{${labels}}`, values: `0+${errors}x15` });
    }
    return out;
  });
  const ratios = components.map(([component, requests, errors]) => ({
    labels: `{component="${component}"}`,
    value: Math.round((1000 * (errors ?? 0)) / requests),
  }));
  const warning = alertRule({}, 'LkAgentsErrorRateHigh', 'warning');
  const critical = alertRule({}, 'LkAgentsErrorRateHigh', 'critical');
  const firing = (component: string, rule: typeof warning, value: string) => ({
    exp_labels: { component, severity: rule.labels.severity! },
    exp_annotations: rendered(rule, { component, $value: value }),
  });
  return {
    series,
    ratios,
    alerts: [
      firing('llm', warning, '10.5'),
      firing('llm', critical, '10.5'),
      firing('tts', warning, '9.5'),
    ],
  };
}
