import { GUARD_REASONS, GUARD_SOURCES } from '../catalog/guard-sources.js';
import { type BucketLayout, FAMILIES, type FamilyKey } from './metric-families.js';

export type Labels = Readonly<Record<string, string>>;

/** A trace to jump to from a histogram bucket (OpenMetrics exemplar). */
export interface Exemplar {
  traceId: string;
  value: number;
  /** Epoch seconds, as OpenMetrics writes exemplar timestamps. */
  at: number;
}

export interface HistogramSeries {
  labels: Labels;
  /** Per-bucket counts, not cumulative; the last entry is the +Inf bucket. */
  counts: number[];
  sum: number;
  count: number;
  /** Latest exemplar per bucket, when tracing was on. */
  exemplars?: Array<Exemplar | null>;
}

export interface ScalarSeries {
  labels: Labels;
  value: number;
}

/** Versioned, JSON-serializable state of a store: what job processes send to the worker hub. */
export interface StoreSnapshot {
  v: 1;
  layout: BucketLayout;
  histograms: Partial<Record<FamilyKey, HistogramSeries[]>>;
  counters: Partial<Record<FamilyKey, ScalarSeries[]>>;
}

/** A label set prepared once (per session, per family label values) and reused per sample. */
export interface SeriesKey {
  key: string;
  labels: Labels;
}

/** Distinct series a store accepts before it drops new ones (and counts the drops). */
export const DEFAULT_MAX_SERIES = 5_000;

/**
 * Cumulative histogram and counter state, kept off prom-client on the hot path: an observation
 * is a map lookup and a few increments. Everything is monotonic and mergeable, so a worker can
 * sum the stores of many job processes, and a job that ends leaves its counts behind.
 */
export class SeriesStore {
  private readonly histograms = new Map<FamilyKey, Map<string, HistogramSeries>>();
  private readonly counters = new Map<FamilyKey, Map<string, ScalarSeries>>();
  private seriesCount = 0;

  constructor(
    readonly layout: BucketLayout,
    private readonly maxSeries = DEFAULT_MAX_SERIES,
  ) {}

  observe(family: FamilyKey, series: SeriesKey, value: number, exemplar?: Exemplar): void {
    const bounds = this.bounds(family);
    let byKey = this.histograms.get(family);
    if (!byKey) this.histograms.set(family, (byKey = new Map()));
    let h = byKey.get(series.key);
    if (!h) {
      if (!this.admit(family, series.labels)) return;
      h = {
        labels: series.labels,
        counts: new Array<number>(bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      byKey.set(series.key, h);
    }
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
    h.counts[bucket]! += 1;
    h.sum += value;
    h.count += 1;
    if (exemplar) {
      h.exemplars ??= new Array<Exemplar | null>(bounds.length + 1).fill(null);
      h.exemplars[bucket] = exemplar;
    }
  }

  inc(family: FamilyKey, series: SeriesKey, by = 1): void {
    let byKey = this.counters.get(family);
    if (!byKey) this.counters.set(family, (byKey = new Map()));
    const c = byKey.get(series.key);
    if (c) {
      c.value += by;
      return;
    }
    if (!this.admit(family, series.labels)) return;
    byKey.set(series.key, { labels: series.labels, value: by });
  }

  /** Adds another store's state (e.g. a job process's snapshot) into this one. */
  merge(snapshot: StoreSnapshot): void {
    if (!sameLayout(snapshot.layout, this.layout)) {
      throw new Error('cannot merge stores with different bucket layouts');
    }
    for (const [family, list] of Object.entries(snapshot.histograms) as [
      FamilyKey,
      HistogramSeries[],
    ][]) {
      let byKey = this.histograms.get(family);
      if (!byKey) this.histograms.set(family, (byKey = new Map()));
      for (const s of list) {
        const key = labelKey(s.labels);
        const h = byKey.get(key);
        if (!h) {
          if (this.admit(family, s.labels)) byKey.set(key, structuredClone(s));
          continue;
        }
        for (let i = 0; i < h.counts.length; i++) h.counts[i]! += s.counts[i] ?? 0;
        h.sum += s.sum;
        h.count += s.count;
        if (s.exemplars) {
          h.exemplars ??= new Array<Exemplar | null>(h.counts.length).fill(null);
          s.exemplars.forEach((e, i) => {
            if (e && (!h.exemplars![i] || h.exemplars![i]!.at <= e.at)) h.exemplars![i] = e;
          });
        }
      }
    }
    for (const [family, list] of Object.entries(snapshot.counters) as [
      FamilyKey,
      ScalarSeries[],
    ][]) {
      let byKey = this.counters.get(family);
      if (!byKey) this.counters.set(family, (byKey = new Map()));
      for (const s of list) {
        const key = labelKey(s.labels);
        const c = byKey.get(key);
        if (c) c.value += s.value;
        else if (this.admit(family, s.labels)) byKey.set(key, { labels: s.labels, value: s.value });
      }
    }
  }

  /**
   * Whether adding `snapshot` would take a counter value, a bucket count, a count or the
   * magnitude of a sum past 2^53 − 1, where additions stop being exact (and a saved hub state
   * would no longer pass its schema). The hub refuses such a delta rather than add it.
   */
  wouldOverflow(snapshot: StoreSnapshot): boolean {
    const past = (a: number, b: number) => !(Math.abs(a + b) <= Number.MAX_SAFE_INTEGER);
    for (const [family, list] of Object.entries(snapshot.counters) as [
      FamilyKey,
      ScalarSeries[],
    ][]) {
      const byKey = this.counters.get(family);
      for (const s of list) {
        if (past(byKey?.get(labelKey(s.labels))?.value ?? 0, s.value)) return true;
      }
    }
    for (const [family, list] of Object.entries(snapshot.histograms) as [
      FamilyKey,
      HistogramSeries[],
    ][]) {
      const byKey = this.histograms.get(family);
      for (const s of list) {
        const h = byKey?.get(labelKey(s.labels));
        if (past(h?.count ?? 0, s.count) || past(h?.sum ?? 0, s.sum)) return true;
        for (let i = 0; i < s.counts.length; i++) {
          if (past(h?.counts[i] ?? 0, s.counts[i]!)) return true;
        }
      }
    }
    return false;
  }

  snapshot(): StoreSnapshot {
    const histograms: StoreSnapshot['histograms'] = {};
    for (const [family, byKey] of this.histograms)
      histograms[family] = [...byKey.values()].map((h) => structuredClone(h));
    const counters: StoreSnapshot['counters'] = {};
    for (const [family, byKey] of this.counters)
      counters[family] = [...byKey.values()].map((c) => ({ ...c }));
    return { v: 1, layout: this.layout, histograms, counters };
  }

  /** Whether nothing was recorded yet. */
  get isEmpty(): boolean {
    return this.histograms.size === 0 && this.counters.size === 0;
  }

  histogramSeries(family: FamilyKey): Iterable<HistogramSeries> {
    return this.histograms.get(family)?.values() ?? [];
  }

  counterSeries(family: FamilyKey): Iterable<ScalarSeries> {
    return this.counters.get(family)?.values() ?? [];
  }

  bounds(family: FamilyKey): readonly number[] {
    const def = FAMILIES[family];
    return 'buckets' in def && def.buckets === 'throughput'
      ? this.layout.throughput
      : this.layout.latency;
  }

  /**
   * Whether a new series fits under the cap, which every family's series count against. The
   * plugin's own health series are the exception (they must report the drops), and they are
   * a fixed set: see {@link isHealthSeries}.
   */
  private admit(family: FamilyKey, labels: Labels): boolean {
    if (isHealthSeries(family, labels)) return true;
    if (this.seriesCount >= this.maxSeries) {
      this.inc('dropped_samples', DROPPED.series_limit);
      return false;
    }
    this.seriesCount += 1;
    return true;
  }
}

/**
 * Why samples (or whole hub frames and connections) were dropped, as the store's own health
 * series `dropped_samples{reason}` report it. A fixed list, so those series stay few.
 */
export const DROP_REASONS = [
  'series_limit',
  'hub_invalid_frame',
  'hub_oversize_frame',
  'hub_extra_job',
  'hub_connection_limit',
  'hub_buffer_limit',
  'hub_idle_connection',
  'hub_unread_acks',
  'hub_undeliverable',
  'hub_slow_frame',
  'hub_value_overflow',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** The series of `dropped_samples{reason}`, one per reason, without constant labels. */
export const DROPPED: Readonly<Record<DropReason, SeriesKey>> = Object.fromEntries(
  DROP_REASONS.map((reason) => [reason, seriesKey({ reason })]),
) as Record<DropReason, SeriesKey>;

/**
 * The health series a store keeps past its cap: an unlabelled plugin counter (at most one per
 * family), `internal_errors{source,reason}` for the guard's sources and reasons, or
 * `dropped_samples` for one of {@link DROP_REASONS}. Anything else, including health
 * counters with constant labels or other reasons, counts against the cap.
 */
export function isHealthSeries(family: FamilyKey, labels: Labels): boolean {
  if (FAMILIES[family].type !== 'counter' || (!family.startsWith('dropped') && !HEALTH.has(family)))
    return false;
  const names = Object.keys(labels);
  if (names.length === 0) return FAMILIES[family].labelNames.length === 0;
  if (family === 'internal_errors') {
    return (
      names.length === 2 &&
      (GUARD_SOURCES as readonly string[]).includes(labels.source ?? '') &&
      (GUARD_REASONS as readonly string[]).includes(labels.reason ?? '')
    );
  }
  return (
    family === 'dropped_samples' &&
    names.length === 1 &&
    (DROP_REASONS as readonly string[]).includes(labels.reason ?? '')
  );
}
const HEALTH = new Set<FamilyKey>(['folded_functions', 'internal_errors', 'hub_disconnects']);

/**
 * A stable key for a label set, independent of property order. Values are JSON-quoted, so no
 * value can forge another label set's key (label names cannot hold `=` or `,`).
 */
export function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

export function seriesKey(labels: Labels): SeriesKey {
  return { key: labelKey(labels), labels };
}

export function sameLayout(a: BucketLayout, b: BucketLayout): boolean {
  const eq = (x: readonly number[], y: readonly number[]) =>
    x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.latency, b.latency) && eq(a.throughput, b.throughput);
}
