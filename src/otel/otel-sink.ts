/**
 * The OpenTelemetry sink: records a session's stats and counters through an `@opentelemetry/api`
 * Meter, with the catalog's names and units (seconds for durations, `{request}` for requests), so
 * a team that ships OTLP gets the same numbers as `/metrics` without Prometheus.
 */
import type { Attributes, Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';
import type { FAMILY_CATALOG } from '../catalog/index.js';
import { STAT_NAMES, type StatName, USAGE_CATALOG } from '../catalog/index.js';
import { FAMILIES, type FamilyKey, otelInstrument, exportedValue } from '../catalog/families.js';
import { sampleLabelValue } from '../catalog/labels.js';
import type { BucketLayout } from '../prometheus/metric-families.js';
import { FunctionNameCap } from '../prometheus/series-sink.js';
import type {
  HealthEvent,
  MetricSample,
  MetricsSink,
  RequestEvent,
  TurnTakingEvent,
  UsageEvent,
  UsageField,
} from '../types.js';
import type { Guard } from '../util/guard.js';

type CounterKey = Exclude<keyof typeof FAMILY_CATALOG, 'active_sessions' | 'peak_sessions'>;

const HEALTH_FAMILY: Record<HealthEvent['kind'], CounterKey> = {
  odd_field: 'odd_fields',
  dropped_sample: 'dropped_samples',
  internal_error: 'internal_errors',
  message_sent: 'data_messages',
  message_dropped: 'dropped_messages',
  feature_disabled: 'disabled_features',
  wire_value_adjusted: 'wire_values_adjusted',
};

/** The instrument methods the sink calls: an instrument without them makes the meter unusable. */
const CAN_RECORD = (h: unknown): h is Histogram =>
  typeof (h as Histogram | undefined)?.record === 'function';
const CAN_ADD = (c: unknown): c is Counter & UpDownCounter =>
  typeof (c as Counter | undefined)?.add === 'function';

export class OtelSink implements MetricsSink {
  private readonly histograms = new Map<StatName, Histogram>();
  private readonly counters = new Map<FamilyKey, Counter>();
  private readonly functionNames = new FunctionNameCap();
  private open = true;

  /**
   * The sink, or `undefined` when the meter cannot give every instrument (it threw, or returned
   * something that cannot record): the caller then leaves OpenTelemetry out and the other sinks
   * start.
   */
  static start(
    meter: Meter,
    constLabels: Readonly<Record<string, string>>,
    layout: BucketLayout,
    guard: Guard,
  ): OtelSink | undefined {
    const sink = new OtelSink(constLabels, guard);
    return sink.createInstruments(meter, layout) ? sink : undefined;
  }

  private sessions: UpDownCounter | undefined;

  private constructor(
    private readonly constLabels: Readonly<Record<string, string>>,
    private readonly guard: Guard,
  ) {}

  private createInstruments(meter: Meter, layout: BucketLayout): boolean {
    for (const stat of STAT_NAMES) {
      const family = FAMILIES[stat];
      const { name, unit } = otelInstrument(family);
      const bounds = family.buckets === 'throughput' ? layout.throughput : layout.latency;
      const histogram = this.instrument(
        () =>
          meter.createHistogram(name, {
            description: family.help,
            unit,
            advice: { explicitBucketBoundaries: [...bounds] },
          }),
        CAN_RECORD,
      );
      if (!histogram) return false;
      this.histograms.set(stat, histogram);
    }
    for (const key of [
      'requests',
      'errors',
      'folded_functions',
      ...Object.values(HEALTH_FAMILY),
      ...new Set(Object.values(USAGE_CATALOG).map((def) => def.family)),
      'cost',
      'interruptions',
      'false_interruptions',
      'backchannels',
    ] as FamilyKey[]) {
      const family = FAMILIES[key];
      const { name, unit } = otelInstrument(family);
      const counter = this.instrument(
        () => meter.createCounter(name, { description: family.help, unit }),
        CAN_ADD,
      );
      if (!counter) return false;
      this.counters.set(key, counter);
    }
    const active = FAMILIES.active_sessions;
    const sessions = this.instrument(
      () => meter.createUpDownCounter(active.name, { description: active.help, unit: active.unit }),
      CAN_ADD,
    );
    if (!sessions) return false;
    this.sessions = sessions;
    this.add(sessions, 1, this.constLabels);
    return true;
  }

  /** An instrument from the meter; `undefined` when the meter threw or gave nothing usable
   * (counted: `meter:threw`, `meter:invalid`). */
  private instrument<T>(create: () => T, usable: (i: unknown) => i is T): T | undefined {
    let threw = true;
    const made = this.guard.call('meter', 'otel:create_instrument', () => {
      const i = create();
      threw = false;
      return i;
    });
    if (threw) return undefined;
    if (usable(made)) return made;
    this.guard.fail(
      { source: 'meter', reason: 'invalid', where: 'otel:create_instrument' },
      new TypeError('the meter returned no usable instrument'),
    );
    return undefined;
  }

  private record(histogram: Histogram, value: number, attributes: Attributes): void {
    this.guard.call('meter', 'otel:record', () => histogram.record(value, attributes));
  }

  private add(counter: Counter | UpDownCounter, value: number, attributes: Attributes): void {
    this.guard.call('meter', 'otel:add', () => counter.add(value, attributes));
  }

  sample(s: MetricSample): void {
    const family = FAMILIES[s.stat];
    const attributes: Attributes = { ...this.constLabels };
    for (const label of family.labelNames) {
      if (label !== 'function') {
        attributes[label] = sampleLabelValue(label, s);
        continue;
      }
      // tool names come from the LLM: past the cap they fold into `other`, as in Prometheus
      const [name, folded] = this.functionNames.labelFor(s.functionName ?? 'unknown');
      attributes[label] = name;
      if (folded) this.add(this.counters.get('folded_functions')!, 1, { ...this.constLabels });
    }
    const value = exportedValue(family.unit, s.value);
    this.record(this.histograms.get(s.stat)!, value, attributes);
  }

  request(event: RequestEvent): void {
    if (event.outcome !== 'ok' && event.outcome !== 'error') return;
    const attributes: Attributes = {
      ...this.constLabels,
      component: event.component,
      provider: event.provider ?? '',
      model: event.model ?? '',
    };
    this.add(this.counters.get('requests')!, 1, attributes);
    if (event.outcome === 'error') this.add(this.counters.get('errors')!, 1, attributes);
  }

  usage(event: UsageEvent): void {
    const base: Attributes = { ...this.constLabels, provider: event.provider, model: event.model };
    for (const [field, amount] of Object.entries(event.amounts) as [UsageField, number][]) {
      const def = USAGE_CATALOG[field];
      const attributes = 'type' in def ? { ...base, type: def.type } : base;
      this.add(this.counters.get(def.family)!, exportedValue(def.unit, amount), attributes);
    }
    if (event.cost) {
      this.add(this.counters.get('cost')!, event.cost.amount, {
        ...base,
        currency: event.cost.currency,
        component: event.component,
      });
    }
  }

  turnTaking(event: TurnTakingEvent): void {
    const attributes: Attributes = { ...this.constLabels };
    if (event.kind === 'interruption') this.add(this.counters.get('interruptions')!, 1, attributes);
    else if (event.kind === 'backchannel') {
      this.add(this.counters.get('backchannels')!, event.count, attributes);
    } else {
      attributes.resumed = String(event.resumed);
      this.add(this.counters.get('false_interruptions')!, 1, attributes);
    }
  }

  health(event: HealthEvent): void {
    const family = HEALTH_FAMILY[event.kind];
    const attributes: Attributes = { ...this.constLabels };
    switch (event.kind) {
      case 'odd_field':
        attributes.field = event.field;
        break;
      case 'dropped_sample':
      case 'message_dropped':
        attributes.reason = event.reason;
        break;
      case 'message_sent':
        attributes.type = event.type;
        break;
      case 'internal_error':
        attributes.source = event.source;
        attributes.reason = event.reason;
        break;
      case 'feature_disabled':
        attributes.feature = event.feature;
        break;
      case 'wire_value_adjusted':
        attributes.kind = event.valueKind;
        attributes.action = event.action;
        break;
    }
    this.add(this.counters.get(family)!, 1, attributes);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    if (this.sessions) this.add(this.sessions, -1, this.constLabels);
  }
}
