import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsConfigError } from '../../../src/errors.js';
import { STAT_NAMES } from '../../../src/catalog/index.js';
import { FAMILIES } from '../../../src/prometheus/metric-families.js';
import {
  ALERTING_GROUP,
  buildPrometheusRules,
  ERRORS_FAMILY,
  formatPromDuration,
  generatePrometheusRules,
  HISTOGRAM_FAMILIES,
  parsePromDuration,
  type PrometheusRule,
  type PrometheusRulesOptions,
  RECORDING_GROUP,
  REQUESTS_FAMILY,
} from '../../../src/prometheus/rules.js';

type Alert = Extract<PrometheusRule, { alert: string }>;
type Record_ = Extract<PrometheusRule, { record: string }>;

function rules(options?: PrometheusRulesOptions) {
  const file = buildPrometheusRules(options);
  assert.deepEqual(
    file.groups.map((g) => g.name),
    [RECORDING_GROUP, ALERTING_GROUP],
  );
  const recording = file.groups[0]!.rules as Record_[];
  const alerts = file.groups[1]!.rules as Alert[];
  return {
    recording,
    alerts,
    record: (name: string) => recording.find((r) => r.record === name)?.expr,
    alert: (name: string, severity: string) =>
      alerts.find((a) => a.alert === name && a.labels.severity === severity),
  };
}

describe('generatePrometheusRules', () => {
  it("names the exporter's families and aggregates by labels they carry", () => {
    assert.deepEqual(
      HISTOGRAM_FAMILIES.map((f) => f.stat).sort(),
      [...STAT_NAMES].sort(),
      'a rule family per stat',
    );
    for (const f of HISTOGRAM_FAMILIES) {
      const family = FAMILIES[f.stat];
      assert.equal(f.name, family.name);
      assert.equal(family.type, 'histogram');
      const labels: readonly string[] = family.labelNames;
      for (const label of f.by) assert.ok(labels.includes(label), label);
    }
    assert.equal(REQUESTS_FAMILY, FAMILIES.requests.name);
    assert.equal(ERRORS_FAMILY, FAMILIES.errors.name);
    assert.ok((FAMILIES.errors.labelNames as readonly string[]).includes('component'));
  });

  it('records p50/p90/p95 of every histogram, by its own labels, over the alert window', () => {
    const { recording, record } = rules();
    assert.equal(
      record('lk_agents:llm_ttft_seconds:p90_rate5m'),
      'histogram_quantile(0.9, sum by (le, provider, model) (rate(lk_agents_llm_ttft_seconds_bucket[5m])))',
    );
    assert.equal(
      record('lk_agents:e2e_latency_seconds:p95_rate5m'),
      'histogram_quantile(0.95, sum by (le) (rate(lk_agents_e2e_latency_seconds_bucket[5m])))',
    );
    assert.equal(
      record('lk_agents:function_execution_seconds:p50_rate5m'),
      'histogram_quantile(0.5, sum by (le, function) (rate(lk_agents_function_execution_seconds_bucket[5m])))',
    );
    // one family per stat of the catalog, in its order
    const families = STAT_NAMES.map((name) => FAMILIES[name].name.replace(/^lk_agents_/, ''));
    assert.deepEqual(
      recording.map((r) => r.record),
      [
        ...families.flatMap((f) => ['p50', 'p90', 'p95'].map((q) => `lk_agents:${f}:${q}_rate5m`)),
        'lk_agents:error_rate:ratio_rate5m',
      ],
    );
  });

  it('records the error ratio per component, reading 0 where a component has no errors', () => {
    const expr = rules().record('lk_agents:error_rate:ratio_rate5m')!;
    const compact = expr.replace(/\s+/g, ' ');
    assert.equal(
      compact,
      '( sum by (component) (rate(lk_agents_errors_total[5m])) or 0 * sum by (component) ' +
        '(rate(lk_agents_requests_total[5m])) ) / sum by (component) (rate(lk_agents_requests_total[5m]))',
    );
  });

  it("alerts at the spec's defaults, thresholds in seconds, both levels distinguishable", () => {
    const { alerts, alert } = rules();
    assert.deepEqual(
      alerts.map((a) => `${a.alert}/${a.labels.severity}`),
      [
        'LkAgentsSttLatencyP90High/warning',
        'LkAgentsSttLatencyP90High/critical',
        'LkAgentsTtftP90High/warning',
        'LkAgentsTtftP90High/critical',
        'LkAgentsErrorRateHigh/warning',
        'LkAgentsErrorRateHigh/critical',
      ],
    );
    assert.equal(
      alert('LkAgentsTtftP90High', 'warning')!.expr,
      'lk_agents:llm_ttft_seconds:p90_rate5m > 2',
    );
    assert.equal(
      alert('LkAgentsTtftP90High', 'critical')!.expr,
      'lk_agents:llm_ttft_seconds:p90_rate5m > 3.5',
    );
    assert.equal(
      alert('LkAgentsSttLatencyP90High', 'warning')!.expr,
      'lk_agents:stt_latency_seconds:p90_rate5m > 1.5',
    );
    assert.equal(
      alert('LkAgentsSttLatencyP90High', 'critical')!.expr,
      'lk_agents:stt_latency_seconds:p90_rate5m > 2.5',
    );
    for (const a of alerts) {
      assert.equal(a.for, '2m');
      assert.match(a.annotations.summary!, new RegExp(`\\(${a.labels.severity}\\)$`));
      assert.match(a.annotations.description!, /\{\{ \$value( \| \w+)? \}\}/);
    }
    const warning = alert('LkAgentsTtftP90High', 'warning')!;
    const critical = alert('LkAgentsTtftP90High', 'critical')!;
    assert.equal(warning.annotations.summary, 'LLM TTFT p90 above 2s (warning)');
    assert.equal(critical.annotations.summary, 'LLM TTFT p90 above 3.5s (critical)');
    assert.match(warning.annotations.description!, /\{\{ \$value \| humanizeDuration \}\}/);
  });

  it('alerts on the error rate in percent, per component, once enough requests were made', () => {
    const a = rules().alert('LkAgentsErrorRateHigh', 'critical')!;
    assert.equal(
      a.expr.replace(/\s+/g, ' '),
      '100 * lk_agents:error_rate:ratio_rate5m > 10 and on (component) ' +
        'sum by (component) (increase(lk_agents_requests_total[5m])) >= 5',
    );
    assert.match(a.annotations.description!, /\{\{ \$value \| humanize \}\}%/);
    assert.match(
      rules({ alertMinRequests: 20 }).alert('LkAgentsErrorRateHigh', 'warning')!.expr,
      /> 5\n.*\n.*>= 20$/,
    );
  });

  it('converts any latency rule from ms to seconds and treats tokens_per_sec as lower-is-worse', () => {
    const { alert } = rules({
      alerts: {
        e2e_latency: { warning: 1234, critical: 2500.5 },
        function_execution: { warning: 50, critical: 60_000 },
        ttlt: { warning: 3000, critical: 6000 },
        tts_latency: { warning: 1, critical: 1500 },
        tokens_per_sec: { warning: 20, critical: 10 },
      },
    });
    assert.equal(
      alert('LkAgentsE2eLatencyP90High', 'warning')!.expr,
      'lk_agents:e2e_latency_seconds:p90_rate5m > 1.234',
    );
    assert.equal(
      alert('LkAgentsE2eLatencyP90High', 'critical')!.expr,
      'lk_agents:e2e_latency_seconds:p90_rate5m > 2.5005',
    );
    assert.equal(
      alert('LkAgentsFunctionExecutionP90High', 'warning')!.expr,
      'lk_agents:function_execution_seconds:p90_rate5m > 0.05',
    );
    assert.match(
      alert('LkAgentsFunctionExecutionP90High', 'critical')!.annotations.description!,
      /for tool \{\{ \$labels\.function \}\}/,
    );
    assert.equal(
      alert('LkAgentsTtltP90High', 'critical')!.expr,
      'lk_agents:llm_ttlt_seconds:p90_rate5m > 6',
    );
    assert.equal(
      alert('LkAgentsTtsLatencyP90High', 'warning')!.expr,
      'lk_agents:tts_latency_seconds:p90_rate5m > 0.001',
    );
    // Tokens per second are not a latency: no conversion, and a low value is the problem.
    const low = alert('LkAgentsTokensPerSecP90Low', 'critical')!;
    assert.equal(low.expr, 'lk_agents:llm_tokens_per_second:p90_rate5m < 10');
    assert.equal(low.annotations.summary, 'LLM tokens/s p90 below 10 tokens/s (critical)');
    assert.equal(
      alert('LkAgentsTokensPerSecP90Low', 'warning')!.expr,
      'lk_agents:llm_tokens_per_second:p90_rate5m < 20',
    );
  });

  it('drops the alerts of a rule set to false and keeps the recording rules', () => {
    const { alerts, recording } = rules({ alerts: { ttft: false, error_rate: false } });
    assert.deepEqual([...new Set(alerts.map((a) => a.alert))], ['LkAgentsSttLatencyP90High']);
    assert.equal(
      recording.length,
      STAT_NAMES.length * 3 + 1,
      'p50/p90/p95 per stat, the error ratio',
    );
  });

  it('takes the window from alertWindowMs, written as a Prometheus duration', () => {
    const { record, alert } = rules({ alertWindowMs: 90_000, for: '30s' });
    assert.match(record('lk_agents:llm_ttft_seconds:p90_rate1m30s')!, /\[1m30s\]/);
    assert.match(
      record('lk_agents:error_rate:ratio_rate1m30s')!,
      /rate\(lk_agents_errors_total\[1m30s\]\)/,
    );
    const a = alert('LkAgentsTtftP90High', 'warning')!;
    assert.equal(a.expr, 'lk_agents:llm_ttft_seconds:p90_rate1m30s > 2');
    assert.equal(a.for, '30s');
    assert.match(a.annotations.description!, /over the last 1m30s /);
  });

  it('keeps the groupBy labels in every aggregation and in the error-rate join', () => {
    const { record, alert } = rules({ groupBy: ['agent_name', 'provider'] });
    assert.match(
      record('lk_agents:llm_ttft_seconds:p90_rate5m')!,
      /sum by \(le, provider, model, agent_name\) /,
    );
    assert.match(
      record('lk_agents:e2e_latency_seconds:p90_rate5m')!,
      /sum by \(le, agent_name, provider\) /,
    );
    assert.match(
      record('lk_agents:error_rate:ratio_rate5m')!,
      /sum by \(component, agent_name, provider\) \(rate\(lk_agents_errors_total/,
    );
    assert.match(
      alert('LkAgentsErrorRateHigh', 'warning')!.expr,
      /and on \(component, agent_name, provider\)\nsum by \(component, agent_name, provider\)/,
    );
  });

  it('throws the same MetricsConfigError as attachMetrics for an invalid rule', () => {
    for (const [options, option, pattern] of [
      [
        { alerts: { ttft: { warning: 4000, critical: 3500 } } },
        'alerts.ttft',
        /must be below critical/,
      ],
      [{ alerts: { ttfb: { warning: 1, critical: 2 } } }, 'alerts.ttfb', /unknown metric/],
      [
        { alerts: { tokens_per_sec: { warning: 10, critical: 20 } } },
        'alerts.tokens_per_sec',
        /above/,
      ],
      [
        { alerts: { error_rate: { warning: 5, critical: 120 } } },
        'alerts.error_rate.critical',
        /percentage/,
      ],
      [{ alertWindowMs: 500 }, 'alertWindowMs', /integer from 1000/],
      [{ alertWindowMs: 1.5e3 + 0.5 }, 'alertWindowMs', /integer/],
      [{ alertMinRequests: 0 }, 'alertMinRequests', /integer from 1/],
      [{ for: '2 minutes' }, 'for', /Prometheus duration/],
      [{ for: '' }, 'for', /Prometheus duration/],
      [{ groupBy: ['agent-name'] }, 'groupBy[0]', /label name/],
      [{ groupBy: ['ok', '__name__'] }, 'groupBy[1]', /label name/],
      [{ groupBy: ['le'] }, 'groupBy[0]', /"le"/],
      [{ groupBy: 'agent_name' }, 'groupBy', /array/],
    ] as [PrometheusRulesOptions, string, RegExp][]) {
      assert.throws(
        () => generatePrometheusRules(options),
        (err: unknown) =>
          err instanceof MetricsConfigError && err.option === option && pattern.test(err.message),
        JSON.stringify(options),
      );
    }
  });

  it('writes YAML with a header, the groups, and PromQL quoted only where YAML needs it', () => {
    const yaml = generatePrometheusRules();
    assert.match(yaml, /^# Prometheus rules for livekit-agents-metrics \(window 5m, for 2m\)\./);
    assert.match(yaml, /# .*both fire/);
    assert.match(yaml, /\ngroups:\n {2}- name: livekit-agents-metrics\.recording\n {4}rules:\n/);
    assert.match(
      yaml,
      /\n {6}- record: lk_agents:llm_ttft_seconds:p90_rate5m\n {8}expr: histogram_quantile\(0\.9, sum by \(le, provider, model\) \(rate\(lk_agents_llm_ttft_seconds_bucket\[5m\]\)\)\)\n/,
    );
    // Multi-line PromQL is a literal block; a template that starts with `{{` is quoted (double quotes, as the yaml package writes it).
    assert.match(yaml, /\n {8}expr: \|-\n {10}100 \* lk_agents:error_rate:ratio_rate5m > 5\n/);
    assert.match(
      yaml,
      /\n {10}summary: "\{\{ \$labels\.component \}\} error rate above 5% \(warning\)"\n/,
    );
    assert.ok(yaml.endsWith('\n') && !yaml.endsWith('\n\n'));
    assert.equal(generatePrometheusRules({}), yaml, 'deterministic');
  });
});

describe('Prometheus durations', () => {
  it('formats whole milliseconds in the largest units', () => {
    for (const [ms, text] of [
      [300_000, '5m'],
      [90_000, '1m30s'],
      [1_000, '1s'],
      [1_500, '1s500ms'],
      [3_600_000, '1h'],
      [86_400_000, '1d'],
      [5_430_000, '1h30m30s'],
    ] as const) {
      assert.equal(formatPromDuration(ms), text);
      assert.equal(parsePromDuration(text), ms);
    }
  });

  it('parses what Prometheus accepts and rejects the rest', () => {
    assert.equal(parsePromDuration('1w'), 604_800_000);
    assert.equal(parsePromDuration('500ms'), 500);
    assert.equal(parsePromDuration('0s'), 0);
    for (const bad of ['', '5', 'm', '5 m', '1.5m', '5M', '30s1m', '-1s']) {
      assert.equal(parsePromDuration(bad), undefined, bad);
    }
  });
});
