import {
  ALERT_METRICS,
  type AlertMetric,
  type AlertThresholds,
  DEFAULT_ALERT_RULES,
  alertDirection,
  unitOf,
} from '../catalog/index.js';
import { ConfigCheck, MetricsConfigError, readOption, readRecord, shown } from '../errors.js';
import type { AlertRules } from '../types.js';

export { DEFAULT_ALERT_RULES } from '../catalog/index.js';

export interface ResolvedRule extends AlertThresholds {
  metric: AlertMetric;
  /** `below` for a metric where a low value is the problem (the catalog's `better: 'higher'`). */
  direction: 'above' | 'below';
}

/** Merges user rules over the catalog's defaults and validates them; throws a
 * MetricsConfigError that lists every problem. */
export function resolveAlertRules(user: AlertRules | undefined): ResolvedRule[] {
  // Read once, through the guards of errors.ts (a key such as `__proto__` is just a key).
  const given = user === undefined ? new Map<string, unknown>() : readRecord(user, 'alerts');
  if (!given) {
    throw new MetricsConfigError(
      'alerts',
      'expected an object of { metric: { warning, critical } }',
    );
  }
  const merged = new Map<string, unknown>(Object.entries(DEFAULT_ALERT_RULES));
  for (const [metric, thresholds] of given) merged.set(metric, thresholds);
  const check = new ConfigCheck();
  const rules: ResolvedRule[] = [];
  for (const [metric, thresholds] of merged) {
    const rule = check.take(() => {
      if (!(ALERT_METRICS as readonly string[]).includes(metric)) {
        throw new MetricsConfigError(
          `alerts.${metric}`,
          `unknown metric; use one of ${ALERT_METRICS.join(', ')}`,
        );
      }
      if (thresholds === false || thresholds === undefined) return undefined;
      return validateRule(metric as AlertMetric, thresholds);
    }, undefined);
    if (rule) rules.push(rule);
  }
  check.done();
  return rules;
}

function validateRule(metric: AlertMetric, t: unknown): ResolvedRule {
  const path = `alerts.${metric}`;
  if (typeof t !== 'object' || t === null) {
    throw new MetricsConfigError(path, 'expected { warning: number, critical: number } or false');
  }
  const warning = readOption(t, 'warning', `${path}.warning`);
  const critical = readOption(t, 'critical', `${path}.critical`);
  const check = new ConfigCheck();
  for (const [name, v] of [
    ['warning', warning],
    ['critical', critical],
  ] as const) {
    check.take(() => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new MetricsConfigError(
          `${path}.${name}`,
          `expected a finite number >= 0, got ${shown(v)}`,
        );
      }
      if (unitOf(metric) === '%' && v > 100) {
        throw new MetricsConfigError(
          `${path}.${name}`,
          `${metric} is a percentage (0-100), got ${v}`,
        );
      }
    }, undefined);
  }
  check.done();
  const direction = alertDirection(metric);
  const w = warning as number;
  const c = critical as number;
  if (direction === 'above' ? w >= c : w <= c) {
    const relation = direction === 'above' ? 'below' : 'above';
    throw new MetricsConfigError(
      path,
      `warning (${w}) must be ${relation} critical (${c})` +
        (direction === 'below' ? `: for ${metric} a low value is the problem` : ''),
    );
  }
  return { metric, warning: w, critical: c, direction };
}
