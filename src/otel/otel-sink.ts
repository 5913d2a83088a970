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
import { type BucketLayout, DEFAULT_BUCKETS } from '../prometheus/metric-families.js';
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

type CounterKey = Exclude<keyof typeof FAMILY_CATALOG, 'active_sessions' | 'peak_sessions'>;

const HEALTH_FAMILY: Record<HealthEvent['kind'], CounterKey> = {
  odd_field: 'odd_fields',
  dropped_sample: 'dropped_samples',
  internal_error: 'internal_errors',
  message_sent: 'data_messages',
  message_dropped: 'dropped_messages',
};

export class OtelSink implements MetricsSink {
  private readonly histograms = new Map<StatName, Histogram>();
  private readonly counters = new Map<FamilyKey, Counter>();
  private readonly sessions: UpDownCounter;
  private readonly functionNames = new FunctionNameCap();
  private open = true;

  constructor(
    meter: Meter,
    private readonly constLabels: Readonly<Record<string, string>>,
    layout: BucketLayout = DEFAULT_BUCKETS,
  ) {
    for (const stat of STAT_NAMES) {
      const family = FAMILIES[stat];
      const { name, unit } = otelInstrument(family);
      const bounds = family.buckets === 'throughput' ? layout.throughput : layout.latency;
      this.histograms.set(
        stat,
        meter.createHistogram(name, {
          description: family.help,
          unit,
          advice: { explicitBucketBoundaries: [...bounds] },
        }),
      );
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
      this.counters.set(key, meter.createCounter(name, { description: family.help, unit }));
    }
    const active = FAMILIES.active_sessions;
    this.sessions = meter.createUpDownCounter(active.name, {
      description: active.help,
      unit: active.unit,
    });
    this.sessions.add(1, this.constLabels);
  }

  sample(s: MetricSample): void {
    const family = FAMILIES[s.stat];
    const attributes: Attributes = { ...this.constLabels };
    for (const label of family.labelNames) {
      // tool names come from the LLM: past the cap they fold into `other`, as in Prometheus
      attributes[label] =
        label === 'function'
          ? this.functionNames.labelFor(s.functionName ?? 'unknown')[0]
          : sampleLabelValue(label, s);
    }
    const value = exportedValue(family.unit, s.value);
    this.histograms.get(s.stat)!.record(value, attributes);
  }

  request(event: RequestEvent): void {
    if (event.outcome !== 'ok' && event.outcome !== 'error') return;
    const attributes: Attributes = {
      ...this.constLabels,
      component: event.component,
      provider: event.provider ?? '',
      model: event.model ?? '',
    };
    this.counters.get('requests')!.add(1, attributes);
    if (event.outcome === 'error') this.counters.get('errors')!.add(1, attributes);
  }

  usage(event: UsageEvent): void {
    const base: Attributes = { ...this.constLabels, provider: event.provider, model: event.model };
    for (const [field, amount] of Object.entries(event.amounts) as [UsageField, number][]) {
      const def = USAGE_CATALOG[field];
      const attributes = 'type' in def ? { ...base, type: def.type } : base;
      this.counters.get(def.family)!.add(exportedValue(def.unit, amount), attributes);
    }
    if (event.cost) {
      this.counters.get('cost')!.add(event.cost.amount, {
        ...base,
        currency: event.cost.currency,
        component: event.component,
      });
    }
  }

  turnTaking(event: TurnTakingEvent): void {
    const attributes: Attributes = { ...this.constLabels };
    if (event.kind === 'interruption') this.counters.get('interruptions')!.add(1, attributes);
    else if (event.kind === 'backchannel') {
      this.counters.get('backchannels')!.add(event.count, attributes);
    } else {
      attributes.resumed = String(event.resumed);
      this.counters.get('false_interruptions')!.add(1, attributes);
    }
  }

  health(event: HealthEvent): void {
    const family = HEALTH_FAMILY[event.kind];
    const attributes: Attributes = { ...this.constLabels };
    const [label] = FAMILIES[family].labelNames;
    if (label !== undefined) {
      attributes[label] =
        'field' in event
          ? event.field
          : 'reason' in event
            ? event.reason
            : 'type' in event
              ? event.type
              : '';
    }
    this.counters.get(family)!.add(1, attributes);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.sessions.add(-1, this.constLabels);
  }
}
