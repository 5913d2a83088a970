/**
 * What is derived from the metric catalog (`metrics.ts`) for every reader, the overlay included:
 * the name unions, the default alert rules, alert directions and units, and the bottleneck
 * series. The exporters' families are derived in `families.ts`. Isomorphic.
 */
import { ERROR_RATE, STAT_CATALOG, type StatDef } from './metrics.js';

export { ERROR_RATE, FAMILY_CATALOG, STAT_CATALOG, USAGE_CATALOG } from './metrics.js';
export type {
  FamilyDef,
  MetricComponent,
  MetricUnit,
  PriceField,
  RateDef,
  StatDef,
  UsageComponent,
  UsageDef,
} from './metrics.js';
import type { USAGE_CATALOG } from './metrics.js';

/** A usage quantity (the keys of `summary().usage.entries[].amounts`). */
export type UsageField = keyof typeof USAGE_CATALOG;

/** A distribution the plugin keeps statistics for (`stats(name)`, `summary().stats[name]`). */
export type StatName = keyof typeof STAT_CATALOG;

/** Every {@link StatName}, in pipeline order. */
export const STAT_NAMES = Object.freeze(Object.keys(STAT_CATALOG)) as readonly StatName[];

/** The declaration of a stat, widened to {@link StatDef} so optional fields can be read. */
export const statDef = (name: StatName): StatDef => STAT_CATALOG[name];

/** Metrics an alert rule can watch: a stat's rolling p90, or a component's error rate. */
export type AlertMetric = StatName | 'error_rate';

export const ALERT_METRICS: readonly AlertMetric[] = Object.freeze([...STAT_NAMES, 'error_rate']);

/** Warning and critical thresholds of one alert rule. */
export interface AlertThresholds {
  /** Level at which a `warning` alert is raised. */
  warning: number;
  /** Level at which a `critical` alert is raised. */
  critical: number;
}

/** The catalog's default alert thresholds (latencies in ms on the rolling p90, error rate in
 * percent): the spec's ALERT_RULES. */
export const DEFAULT_ALERT_RULES: Readonly<Partial<Record<AlertMetric, AlertThresholds>>> =
  Object.freeze({
    ...Object.fromEntries(
      STAT_NAMES.flatMap((name) => {
        const alert = statDef(name).alert;
        return alert ? [[name, { ...alert }]] : [];
      }),
    ),
    error_rate: { ...ERROR_RATE.alert },
  });

/** Which side of a threshold is bad: `above` when lower is better. */
export const alertDirection = (metric: AlertMetric): 'above' | 'below' =>
  metric !== 'error_rate' && statDef(metric).better === 'higher' ? 'below' : 'above';

/** The unit an alert metric's values and thresholds are in. */
export const unitOf = (metric: AlertMetric): StatDef['unit'] | '%' =>
  metric === 'error_rate' ? ERROR_RATE.unit : statDef(metric).unit;

/** The components the bottleneck analysis chooses from. */
export type BottleneckComponent = 'stt' | 'llm' | 'tts';

/** The stat that stands for each bottleneck component (the catalog's `bottleneck: true`). */
export const BOTTLENECK_STATS: Readonly<Record<BottleneckComponent, StatName>> = Object.freeze(
  Object.fromEntries(
    STAT_NAMES.filter((name) => statDef(name).bottleneck).map((name) => [
      statDef(name).component,
      name,
    ]),
  ) as Record<BottleneckComponent, StatName>,
);
