import { USAGE_CATALOG } from '../catalog/index.js';
import {
  GUARD_REASONS,
  GUARD_SOURCES,
  type GuardReason,
  type GuardSource,
} from '../catalog/guard-sources.js';
import type {
  HealthEvent,
  MetricSample,
  MetricsSink,
  RequestEvent,
  TurnTakingEvent,
  UsageEvent,
  UsageField,
} from '../types.js';
import { sampleLabelValue } from '../catalog/labels.js';
import { exportedValue } from '../catalog/families.js';
import { FAMILIES, type FamilyKey } from './metric-families.js';
import { type Labels, type SeriesKey, type SeriesStore, seriesKey } from './series-store.js';

/** Distinct tool names one process exports before new names fold into function="other". */
export const DEFAULT_MAX_FUNCTION_NAMES = 50;

/** Tool names come from an LLM and can be invented: this caps their label cardinality. */
export class FunctionNameCap {
  private readonly seen = new Set<string>();
  constructor(private readonly max = DEFAULT_MAX_FUNCTION_NAMES) {}

  /** The label value to use, and whether the name was folded into `other`. */
  labelFor(name: string): [string, boolean] {
    if (this.seen.has(name)) return [name, false];
    if (this.seen.size < this.max) {
      this.seen.add(name);
      return [name, false];
    }
    return ['other', true];
  }
}

const NO_LABELS: SeriesKey = seriesKey({});
/** `internal_errors{source,reason}`: a fixed set of health series (see isHealthSeries). */
const CONTAINED = Object.fromEntries(
  GUARD_SOURCES.map((source) => [
    source,
    Object.fromEntries(GUARD_REASONS.map((reason) => [reason, seriesKey({ source, reason })])),
  ]),
) as Record<GuardSource, Record<GuardReason, SeriesKey>>;
const MAX_CACHED_KEYS = 1_000;

/**
 * The Prometheus sink: feeds one session's samples, request outcomes and health counts into a
 * SeriesStore, with the session's constant labels. Label sets are built once per distinct
 * combination and cached.
 */
export class SessionSeriesSink implements MetricsSink {
  private readonly keys = new Map<
    FamilyKey,
    Map<string, Map<string, Map<string, Map<string, SeriesKey>>>>
  >();
  private cached = 0;

  constructor(
    /** Where samples go now: a job process swaps its store for a fresh one at each delivery. */
    private readonly target: { readonly store: SeriesStore },
    private readonly constLabels: Labels,
    private readonly functionNames: FunctionNameCap,
  ) {}

  private get store(): SeriesStore {
    return this.target.store;
  }

  sample(s: MetricSample): void {
    const family = FAMILIES[s.stat];
    const values = family.labelNames.map((label) => this.labelValue(label, s));
    const value = exportedValue(family.unit, s.value);
    const exemplar = s.traceId ? { traceId: s.traceId, value, at: s.at / 1000 } : undefined;
    this.store.observe(s.stat, this.key(s.stat, values[0], values[1]), value, exemplar);
  }

  request(event: RequestEvent): void {
    if (event.outcome !== 'ok' && event.outcome !== 'error') return;
    const p = event.provider ?? '';
    const m = event.model ?? '';
    this.store.inc('requests', this.key('requests', event.component, p, m));
    if (event.outcome === 'error') {
      this.store.inc('errors', this.key('errors', event.component, p, m));
    }
  }

  usage(event: UsageEvent): void {
    const { provider, model } = event;
    for (const [field, amount] of Object.entries(event.amounts) as [UsageField, number][]) {
      const def = USAGE_CATALOG[field];
      // audio is counted in ms inside; its counters are in seconds
      const value = exportedValue(def.unit, amount);
      const key =
        'type' in def
          ? this.key(def.family, def.type, provider, model)
          : this.key(def.family, provider, model);
      this.store.inc(def.family, key, value);
    }
    if (event.cost) {
      const key = this.key('cost', event.cost.currency, event.component, provider, model);
      this.store.inc('cost', key, event.cost.amount);
    }
  }

  turnTaking(event: TurnTakingEvent): void {
    switch (event.kind) {
      case 'interruption':
        return this.store.inc('interruptions', NO_LABELS);
      case 'false_interruption':
        return this.store.inc(
          'false_interruptions',
          this.key('false_interruptions', String(event.resumed)),
        );
      case 'backchannel':
        return this.store.inc('backchannels', NO_LABELS, event.count);
    }
  }

  health(event: HealthEvent): void {
    switch (event.kind) {
      case 'odd_field':
        return this.store.inc('odd_fields', this.key('odd_fields', event.field));
      case 'dropped_sample':
        return this.store.inc('dropped_samples', this.key('dropped_samples', event.reason));
      case 'internal_error':
        return this.store.inc('internal_errors', CONTAINED[event.source][event.reason]);
      case 'message_sent':
        return this.store.inc('data_messages', this.key('data_messages', event.type));
      case 'message_dropped':
        return this.store.inc('dropped_messages', this.key('dropped_messages', event.reason));
      case 'feature_disabled':
        // once per session and feature: the series counts sessions
        return this.store.inc('disabled_features', this.key('disabled_features', event.feature));
      case 'wire_value_adjusted':
        return this.store.inc(
          'wire_values_adjusted',
          this.key('wire_values_adjusted', event.valueKind, event.action),
        );
    }
  }

  /** A sample's value for one of its family's labels; tool names past the cap fold. */
  private labelValue(label: string, s: MetricSample): string {
    if (label !== 'function') return sampleLabelValue(label, s);
    const [name, folded] = this.functionNames.labelFor(s.functionName ?? 'unknown');
    if (folded) this.store.inc('folded_functions', NO_LABELS);
    return name;
  }

  /** The series for `family` with these label values, built once and then looked up through
   * nested maps, so a lookup hashes the (usually interned) label strings, not a new key. */
  private key(family: FamilyKey, a = '', b = '', c = '', d = ''): SeriesKey {
    let byA = this.keys.get(family);
    if (!byA) this.keys.set(family, (byA = new Map()));
    let byB = byA.get(a);
    if (!byB) byA.set(a, (byB = new Map()));
    let byC = byB.get(b);
    if (!byC) byB.set(b, (byC = new Map()));
    let byD = byC.get(c);
    if (!byD) byC.set(c, (byD = new Map()));
    let k = byD.get(d);
    if (!k) {
      const values = [a, b, c, d];
      const labels: Record<string, string> = { ...this.constLabels };
      FAMILIES[family].labelNames.forEach((name, i) => (labels[name] = values[i] ?? ''));
      k = seriesKey(labels);
      // label values come from providers and tools: past the cap, build keys without caching
      if (this.cached < MAX_CACHED_KEYS) {
        byD.set(d, k);
        this.cached += 1;
      }
    }
    return k;
  }
}
