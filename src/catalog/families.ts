/**
 * The exporters' view of the catalog: every Prometheus family (each stat a histogram, each
 * counter and gauge), and the OpenTelemetry instrument each one maps to. Node-side readers only
 * (the overlay does not carry it).
 */
import { FAMILY_CATALOG, type FamilyDef } from './metrics.js';
import { STAT_NAMES, type StatName, statDef } from './index.js';

/** A Prometheus family: every stat (a histogram) and every counter or gauge. */
export type FamilyKey = StatName | keyof typeof FAMILY_CATALOG;

export interface PrometheusFamily {
  key: FamilyKey;
  name: string;
  help: string;
  type: 'histogram' | 'counter' | 'gauge';
  /** Labels the family sets itself, after the constant labels. */
  labelNames: readonly string[];
  /** Histograms: which bucket layout. */
  buckets?: 'latency' | 'throughput';
  /** The catalog's unit: `ms` stats are exposed in seconds. */
  unit: string;
}

function histogramFamily(name: StatName): PrometheusFamily {
  const def = statDef(name);
  return {
    key: name,
    name: def.prometheus.name,
    help: def.description,
    type: 'histogram',
    labelNames: def.prometheus.labels,
    buckets: def.prometheus.buckets,
    unit: def.unit,
  };
}

function counterFamily(key: keyof typeof FAMILY_CATALOG): PrometheusFamily {
  const def: FamilyDef = FAMILY_CATALOG[key];
  return {
    key,
    name: def.prometheus.name,
    help: def.description,
    type: def.type,
    labelNames: def.prometheus.labels,
    unit: def.unit,
  };
}

/** Every Prometheus family, by key: histograms in pipeline order, then counters and gauges. */
export const FAMILIES: Readonly<Record<FamilyKey, PrometheusFamily>> = Object.freeze(
  Object.fromEntries([
    ...STAT_NAMES.map((name) => [name, histogramFamily(name)]),
    ...(Object.keys(FAMILY_CATALOG) as (keyof typeof FAMILY_CATALOG)[]).map((key) => [
      key,
      counterFamily(key),
    ]),
  ]) as Record<FamilyKey, PrometheusFamily>,
);

export const FAMILY_KEYS = Object.freeze(Object.keys(FAMILIES)) as readonly FamilyKey[];

/** An instrument's OpenTelemetry name and unit: the Prometheus name without the suffix that
 * OpenTelemetry's Prometheus exporters add back from the unit (`_seconds`, `_per_second`,
 * `_total`), so both paths end at the same Prometheus name. */
export function otelInstrument(family: PrometheusFamily): { name: string; unit: string } {
  switch (family.unit) {
    case 'ms':
      return { name: family.name.replace(/_seconds$/, ''), unit: 's' };
    case 's':
      // a counter of seconds (audio): the exporters add `_seconds` and `_total` back
      return { name: family.name.replace(/_seconds_total$/, ''), unit: 's' };
    case 'tokens/s':
      return { name: family.name.replace(/_per_second$/, ''), unit: '{token}/s' };
    default:
      return { name: family.name.replace(/_total$/, ''), unit: family.unit };
  }
}

/** A value in its catalog unit as the exporters write it: `ms` become seconds, the one place
 * they do for both Prometheus and OpenTelemetry; every other unit is kept. */
export function exportedValue(unit: string, value: number): number {
  return unit === 'ms' ? value / 1000 : value;
}
