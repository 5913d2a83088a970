/**
 * Prometheus recording and alerting rules that mirror the plugin's own alert rules, for the
 * metric families the Prometheus exporter exposes. Pure: options in, a rules file (YAML) out.
 */
import { type ResolvedRule, resolveAlertRules } from '../alerts/rules.js';
import { MetricsConfigError, readList, readOption, shown } from '../errors.js';
import { stringify } from 'yaml';
import { exportedValue } from '../catalog/families.js';
import { FAMILY_CATALOG, STAT_NAMES, type StatName, statDef } from '../catalog/index.js';
import type { AlertLevel, AlertRules } from '../types.js';
import { LABEL_NAME } from '../catalog/label-names.js';
import { integerOption } from '../config.js';

/** Options of {@link generatePrometheusRules}. */
export interface PrometheusRulesOptions {
  /** Alert rules merged over the defaults, exactly as `attachMetrics` takes them (ms for
   * latencies, percent for `error_rate`, tokens/s for `tokens_per_sec`). */
  alerts?: AlertRules;
  /** Window of the recorded quantiles and error ratios, in ms, as the plugin's
   * `alertWindowMs`. Default: `300_000` (`5m`). */
  alertWindowMs?: number;
  /** Requests a component needs in the window before its error-rate alert fires, as the
   * plugin's `alertMinRequests`. Default: `5`. */
  alertMinRequests?: number;
  /** How long a condition must hold before its alert fires (a Prometheus duration). Default:
   * `2m`. */
  for?: string;
  /** Labels kept in every aggregation besides the family's own (e.g. `agent_name`, or
   * `provider` for error rates per provider). Default: `[]`. */
  groupBy?: string[];
}

/** One rule of a Prometheus rules file. */
export type PrometheusRule =
  | { record: string; expr: string }
  | {
      alert: string;
      expr: string;
      for: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
    };

export type PrometheusRuleFile = {
  groups: { name: string; rules: PrometheusRule[] }[];
};

export const RECORDING_GROUP = 'livekit-agents-metrics.recording';
export const ALERTING_GROUP = 'livekit-agents-metrics.alerts';

interface HistogramFamily {
  stat: StatName;
  name: string;
  /** The family's own labels that the recorded quantiles keep. */
  by: readonly string[];
  /** What it measures, for annotations. */
  title: string;
  /** What an alert description names the series by. */
  subject: string;
  latency: boolean;
  unit: string;
}

/** How an alert description names a series, by the labels it keeps. */
function subjectOf(by: readonly string[]): string {
  if (by.includes('provider')) {
    return ' for provider {{ $labels.provider }}, model {{ $labels.model }}';
  }
  return by.includes('function') ? ' for tool {{ $labels.function }}' : '';
}

/** The exporter's histograms (the catalog's stats), in pipeline order. Latencies in seconds. */
export const HISTOGRAM_FAMILIES: readonly HistogramFamily[] = STAT_NAMES.map((stat) => {
  const def = statDef(stat);
  // a tool's outcome splits its series; its quantiles are over every outcome
  const by = def.prometheus.labels.filter((label) => label !== 'outcome');
  return {
    stat,
    name: def.prometheus.name,
    by,
    title: def.label,
    subject: subjectOf(by),
    latency: def.unit === 'ms',
    unit: def.unit,
  };
});

export const REQUESTS_FAMILY = FAMILY_CATALOG.requests.prometheus.name;
export const ERRORS_FAMILY = FAMILY_CATALOG.errors.prometheus.name;

const QUANTILES = [0.5, 0.9, 0.95] as const;

/** Units Prometheus durations are written in, largest first (the window is at most a day). */
const DURATION_UNITS: readonly [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];
const PROM_DURATION =
  /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_MS = [31_536_000_000, 604_800_000, 86_400_000, 3_600_000, 60_000, 1_000, 1];

/** `300000` → `5m`, `90000` → `1m30s`: the Prometheus duration of a whole number of ms. */
export function formatPromDuration(ms: number): string {
  let rest = ms;
  let out = '';
  for (const [unit, size] of DURATION_UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out || '0s';
}

/** The ms of a Prometheus duration (`2m`, `1h30m`, `500ms`), or undefined if it is not one. */
export function parsePromDuration(text: string): number | undefined {
  const m = PROM_DURATION.exec(text);
  if (!m || text === '') return undefined;
  return DURATION_MS.reduce((sum, size, i) => sum + Number(m[i + 1] ?? 0) * size, 0);
}

function validGroupBy(given: unknown): string[] {
  if (given === undefined) return [];
  const groupBy = readList(given, 'groupBy', 1_000);
  if (!groupBy || groupBy.length > 1_000) {
    throw new MetricsConfigError('groupBy', 'expected an array of at most 1000 label names');
  }
  groupBy.items.forEach((label: unknown, i) => {
    if (typeof label !== 'string' || !LABEL_NAME.test(label) || label.startsWith('__')) {
      throw new MetricsConfigError(
        `groupBy[${i}]`,
        `expected a label name matching [a-zA-Z_][a-zA-Z0-9_]* and not starting with __, got ${shown(label)}`,
      );
    }
    // `le` is the bucket bound that histogram_quantile consumes, never a dimension to keep.
    if (label === 'le') {
      throw new MetricsConfigError(`groupBy[${i}]`, '"le" is always aggregated by the quantiles');
    }
  });
  return groupBy.items as string[];
}

/** `by (a, b)` with duplicates dropped, order kept. */
const byClause = (labels: readonly string[]) => `by (${[...new Set(labels)].join(', ')})`;

/** A threshold as PromQL and people read it: ms become seconds. */
function formatThreshold(family: HistogramFamily, value: number): [promql: string, text: string] {
  if (!family.latency) return [String(value), `${value} ${family.unit}`];
  const seconds = String(exportedValue('ms', value));
  return [seconds, `${seconds}s`];
}

/** `tokens_per_sec` → `TokensPerSec`. */
const pascal = (name: string) =>
  name
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

export const quantileRecordName = (family: string, quantile: number, window: string) =>
  `lk_agents:${family.replace(/^lk_agents_/, '')}:p${Math.round(quantile * 100)}_rate${window}`;

export const errorRatioRecordName = (window: string) => `lk_agents:error_rate:ratio_rate${window}`;

interface Resolved {
  rules: ResolvedRule[];
  window: string;
  forDuration: string;
  minRequests: number;
  groupBy: string[];
}

function resolve(given: PrometheusRulesOptions): Resolved {
  if (typeof given !== 'object' || given === null) {
    throw new MetricsConfigError('options', 'expected an options object');
  }
  // Each option read once, through a guard (a getter or Proxy that throws is a config error).
  const read = (key: keyof PrometheusRulesOptions) => readOption(given, key, key);
  const options = {
    alerts: read('alerts'),
    alertWindowMs: read('alertWindowMs'),
    alertMinRequests: read('alertMinRequests'),
    for: read('for'),
    groupBy: read('groupBy'),
  } as PrometheusRulesOptions;
  const rules = resolveAlertRules(options.alerts);
  const windowMs = integerOption(
    options.alertWindowMs,
    'alertWindowMs',
    300_000,
    1_000,
    86_400_000,
  );
  const minRequests = integerOption(options.alertMinRequests, 'alertMinRequests', 5, 1, 1_000_000);
  const forDuration = options.for ?? '2m';
  if (typeof forDuration !== 'string' || parsePromDuration(forDuration) === undefined) {
    throw new MetricsConfigError(
      'for',
      `expected a Prometheus duration such as 2m, 30s or 1h30m, got ${shown(forDuration)}`,
    );
  }
  return {
    rules,
    window: formatPromDuration(windowMs),
    forDuration,
    minRequests,
    groupBy: validGroupBy(options.groupBy),
  };
}

function recordingRules({ window, groupBy }: Resolved): PrometheusRule[] {
  const rules: PrometheusRule[] = [];
  for (const family of HISTOGRAM_FAMILIES) {
    const by = byClause(['le', ...family.by, ...groupBy]);
    for (const q of QUANTILES) {
      rules.push({
        record: quantileRecordName(family.name, q, window),
        expr: `histogram_quantile(${q}, sum ${by} (rate(${family.name}_bucket[${window}])))`,
      });
    }
  }
  const by = byClause(['component', ...groupBy]);
  const requests = `sum ${by} (rate(${REQUESTS_FAMILY}[${window}]))`;
  rules.push({
    record: errorRatioRecordName(window),
    // A component that made requests but never failed may have no error series at all: `or`
    // fills in 0 so its ratio reads 0 instead of being absent (dashboards show it).
    expr: `(\n  sum ${by} (rate(${ERRORS_FAMILY}[${window}]))\n  or\n  0 * ${requests}\n)\n/\n${requests}`,
  });
  return rules;
}

/**
 * Both levels of a rule fire together past the critical threshold (they differ by the `severity`
 * label), as is usual for Prometheus alerts: routing and Alertmanager inhibition decide which
 * one pages, which keeps each alert's expression a plain comparison.
 */
function alertingRules(r: Resolved): PrometheusRule[] {
  const rules: PrometheusRule[] = [];
  const levels: AlertLevel[] = ['warning', 'critical'];
  for (const rule of r.rules) {
    for (const level of levels) {
      rules.push(
        rule.metric === 'error_rate'
          ? errorRateAlert(r, rule, level)
          : latencyAlert(r, rule, level),
      );
    }
  }
  return rules;
}

function latencyAlert(r: Resolved, rule: ResolvedRule, level: AlertLevel): PrometheusRule {
  const family = HISTOGRAM_FAMILIES.find((f) => f.stat === rule.metric)!;
  const [threshold, text] = formatThreshold(family, rule[level]);
  const [, warningText] = formatThreshold(family, rule.warning);
  const [, criticalText] = formatThreshold(family, rule.critical);
  const above = rule.direction === 'above';
  const value = family.latency
    ? '{{ $value | humanizeDuration }}'
    : `{{ $value | humanize }} ${family.unit}`;
  return {
    alert: `LkAgents${pascal(rule.metric)}P90${above ? 'High' : 'Low'}`,
    // `>` where the plugin uses `>=`: on a histogram, a p90 exactly at a bucket bound (the
    // default buckets include the thresholds) means 90% of samples were within it.
    expr: `${quantileRecordName(family.name, 0.9, r.window)} ${above ? '>' : '<'} ${threshold}`,
    for: r.forDuration,
    labels: { severity: level },
    annotations: {
      summary: `${capitalize(family.title)} p90 ${above ? 'above' : 'below'} ${text} (${level})`,
      description:
        `The p90 of ${family.title} over the last ${r.window} is ${value}${family.subject} ` +
        `(warning ${above ? 'above' : 'below'} ${warningText}, critical ${criticalText}).`,
    },
  };
}

function errorRateAlert(r: Resolved, rule: ResolvedRule, level: AlertLevel): PrometheusRule {
  const by = byClause(['component', ...r.groupBy]);
  const on = by.replace(/^by/, 'on');
  return {
    alert: 'LkAgentsErrorRateHigh',
    // As the plugin's alertMinRequests: one failure out of one request is no error rate yet.
    expr:
      `100 * ${errorRatioRecordName(r.window)} > ${rule[level]}\n` +
      `and ${on}\n` +
      `sum ${by} (increase(${REQUESTS_FAMILY}[${r.window}])) >= ${r.minRequests}`,
    for: r.forDuration,
    labels: { severity: level },
    annotations: {
      summary: `{{ $labels.component }} error rate above ${rule[level]}% (${level})`,
      description:
        `{{ $value | humanize }}% of {{ $labels.component }} requests failed over the last ` +
        `${r.window} (warning above ${rule.warning}%, critical ${rule.critical}%).`,
    },
  };
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The rules as data, before they are written as YAML. Throws MetricsConfigError. */
export function buildPrometheusRules(options: PrometheusRulesOptions = {}): PrometheusRuleFile {
  return build(resolve(options));
}

function build(resolved: Resolved): PrometheusRuleFile {
  return {
    groups: [
      { name: RECORDING_GROUP, rules: recordingRules(resolved) },
      { name: ALERTING_GROUP, rules: alertingRules(resolved) },
    ],
  };
}

/**
 * A Prometheus rules file (YAML) for the exporter's metric families: p50/p90/p95 of every
 * histogram and the error ratio per component as recording rules over the alert window, and
 * one alert per rule and level mirroring the plugin's alert rules (the same defaults, merged
 * and validated the same way: an invalid rule throws the same MetricsConfigError).
 */
export function generatePrometheusRules(options: PrometheusRulesOptions = {}): string {
  const resolved = resolve(options);
  const { window, forDuration } = resolved;
  const header = [
    `# Prometheus rules for livekit-agents-metrics (window ${window}, for ${forDuration}).`,
    '# Generated by `livekit-agents-metrics rules`: regenerate rather than edit.',
    '#',
    '# A rule with warning and critical thresholds has two alerts of one name that differ by',
    '# their severity label; past the critical threshold both fire. To be told once, inhibit the',
    '# warning in Alertmanager:',
    '#   inhibit_rules:',
    '#     - source_matchers: [\'severity="critical"\']',
    '#       target_matchers: [\'severity="warning"\']',
    '#       equal: [alertname, component, provider, model, function]',
  ];
  return `${header.join('\n')}\n${toYaml(build(resolved))}`;
}

/** YAML as the rules files are written: no line folding, so PromQL stays as generated. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}
