import { MetricsConfigError } from '../errors.js';
import { STAT_NAMES } from '../types.js';
import type { AlertMetric, AlertRules, AlertThresholds } from '../types.js';

/** The spec's ALERT_RULES: latencies in ms (rolling p90), error rate in percent. */
export const DEFAULT_ALERT_RULES: Readonly<Record<string, AlertThresholds>> = Object.freeze({
  stt_latency: { warning: 1500, critical: 2500 },
  ttft: { warning: 2000, critical: 3500 },
  error_rate: { warning: 5, critical: 10 },
});

export const ALERT_METRICS: readonly AlertMetric[] = [...STAT_NAMES, 'error_rate'];

export interface ResolvedRule extends AlertThresholds {
  metric: AlertMetric;
  /** `below` for throughput, where a low value is the problem. */
  direction: 'above' | 'below';
}

const directionOf = (metric: AlertMetric) => (metric === 'tokens_per_sec' ? 'below' : 'above');

/** Merges user rules over the defaults and validates them; throws MetricsConfigError. */
export function resolveAlertRules(user: AlertRules | undefined): ResolvedRule[] {
  if (user !== undefined && (typeof user !== 'object' || user === null || Array.isArray(user))) {
    throw new MetricsConfigError(
      'alerts',
      'expected an object of { metric: { warning, critical } }',
    );
  }
  const merged: Record<string, AlertThresholds | false | undefined> = {
    ...DEFAULT_ALERT_RULES,
    ...user,
  };
  const rules: ResolvedRule[] = [];
  for (const [metric, thresholds] of Object.entries(merged)) {
    if (!(ALERT_METRICS as readonly string[]).includes(metric)) {
      throw new MetricsConfigError(
        `alerts.${metric}`,
        `unknown metric; use one of ${ALERT_METRICS.join(', ')}`,
      );
    }
    if (thresholds === false || thresholds === undefined) continue;
    rules.push(validateRule(metric as AlertMetric, thresholds));
  }
  return rules;
}

function validateRule(metric: AlertMetric, t: unknown): ResolvedRule {
  const path = `alerts.${metric}`;
  if (typeof t !== 'object' || t === null) {
    throw new MetricsConfigError(path, 'expected { warning: number, critical: number } or false');
  }
  const { warning, critical } = t as Record<string, unknown>;
  for (const [name, v] of [
    ['warning', warning],
    ['critical', critical],
  ] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new MetricsConfigError(
        `${path}.${name}`,
        `expected a finite number >= 0, got ${String(v)}`,
      );
    }
    if (metric === 'error_rate' && v > 100) {
      throw new MetricsConfigError(
        `${path}.${name}`,
        `an error rate is a percentage (0-100), got ${v}`,
      );
    }
  }
  const direction = directionOf(metric);
  const w = warning as number;
  const c = critical as number;
  if (direction === 'above' ? w >= c : w <= c) {
    const relation = direction === 'above' ? 'below' : 'above';
    throw new MetricsConfigError(
      path,
      `warning (${w}) must be ${relation} critical (${c})` +
        (direction === 'below' ? ': for tokens_per_sec a low value is the problem' : ''),
    );
  }
  return { metric, warning: w, critical: c, direction };
}
