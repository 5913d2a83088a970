import { Registry } from 'prom-client';
import { FAMILIES, type FamilyKey } from './metric-families.js';
import type { SeriesStore } from './series-store.js';

/** Everything one scrape renders. */
export interface ExpositionState {
  /** Cumulative histograms and counters of every process the endpoint covers. */
  store: SeriesStore;
  activeSessions: number;
  peakSessions: number;
  /** Render failures so far (their own counter, kept by the server). */
  renderErrors: number;
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  exemplar?: { labelSet: Record<string, string>; value: number; timestamp: number };
}

/**
 * A prom-client metric whose values are materialized from the plugin's own state at scrape time,
 * so the hot path never touches prom-client; prom-client's registry does the formatting.
 * One instance serves one content type: in OpenMetrics a counter family is named without its
 * `_total` suffix (prom-client appends it per sample), in the text format with it. Keeping the
 * two apart avoids prom-client renaming a shared counter when one registry renders both formats.
 */
export class MaterializedMetric {
  readonly aggregator = 'sum';
  readonly help: string;
  readonly type: 'histogram' | 'counter' | 'gauge';
  private readonly familyName: string;

  constructor(
    private readonly family: FamilyKey,
    private readonly openMetrics: boolean,
    private readonly state: () => ExpositionState,
  ) {
    const def = FAMILIES[family];
    this.help = def.help;
    this.type = def.type;
    this.familyName = def.name;
  }

  /** prom-client's OpenMetrics rendering assigns a standardized name; the family name is fixed. */
  get name(): string {
    return this.openMetrics && this.type === 'counter'
      ? this.familyName.replace(/_total$/, '')
      : this.familyName;
  }

  set name(_ignored: string) {
    // see the class comment: the name depends on the content type only
  }

  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: this.aggregator,
    };
  }

  reset(): void {
    // cumulative by design: a scrape never resets what the agents recorded
  }

  private values(): MetricValue[] {
    const s = this.state();
    switch (this.family) {
      case 'active_sessions':
        return [{ value: s.activeSessions, labels: {} }];
      case 'peak_sessions':
        return [{ value: s.peakSessions, labels: {} }];
      case 'render_errors':
        return [{ value: s.renderErrors, labels: {} }];
      default:
        break;
    }
    if (this.type === 'counter') {
      const out: MetricValue[] = [];
      for (const c of s.store.counterSeries(this.family))
        out.push({ value: c.value, labels: { ...c.labels } });
      // health counters are exposed at 0 too, so a rate() over them works from the first scrape
      if (out.length === 0 && FAMILIES[this.family].labelNames.length === 0)
        out.push({ value: 0, labels: {} });
      return out;
    }
    const bounds = s.store.bounds(this.family);
    const out: MetricValue[] = [];
    for (const h of s.store.histogramSeries(this.family)) {
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += h.counts[i] ?? 0;
        const e = this.openMetrics ? h.exemplars?.[i] : undefined;
        out.push({
          metricName: `${this.familyName}_bucket`,
          labels: { ...h.labels, le: i < bounds.length ? bounds[i]! : '+Inf' },
          value: cumulative,
          ...(e
            ? { exemplar: { labelSet: { trace_id: e.traceId }, value: e.value, timestamp: e.at } }
            : {}),
        });
      }
      out.push({ metricName: `${this.familyName}_sum`, labels: { ...h.labels }, value: h.sum });
      out.push({ metricName: `${this.familyName}_count`, labels: { ...h.labels }, value: h.count });
    }
    return out;
  }
}

/** A registry of every family, for one content type. */
export function createExpositionRegistry(
  openMetrics: boolean,
  state: () => ExpositionState,
  into?: Registry,
): Registry {
  let registry = into;
  if (!registry) {
    registry = new Registry();
    if (openMetrics) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
  }
  for (const family of Object.keys(FAMILIES) as FamilyKey[]) {
    registry.registerMetric(new MaterializedMetric(family, openMetrics, state) as never);
  }
  return registry;
}

/** Whether an Accept header asks for OpenMetrics (Prometheus sends it when it wants exemplars). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return typeof accept === 'string' && accept.includes('application/openmetrics-text');
}
