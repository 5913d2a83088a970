import type { AlertEvent, AlertLevel, ActiveAlert, Component } from '../types.js';
import type { ResolvedRule } from './rules.js';

interface Observation {
  rule: ResolvedRule;
  component?: Component;
  /** Current value, or undefined when the window holds no data. */
  value: number | undefined;
  count: number;
  /** Fewer than this many samples can not raise an alert (they can still keep one). */
  minCount: number;
}

/**
 * Turns observations into raise/clear transitions with hysteresis: a level is entered when the
 * value reaches its threshold, and left only when the value is `hysteresis` (a fraction) back on
 * the good side of it, so a value hovering at the threshold does not flap.
 */
export class AlertEvaluator {
  private readonly active = new Map<string, ActiveAlert>();

  constructor(private readonly hysteresis: number) {}

  observe(o: Observation, at: number): AlertEvent[] {
    const key = o.component ? `${o.rule.metric}:${o.component}` : o.rule.metric;
    const current = this.active.get(key);
    const next = this.levelFor(o, current?.level);
    if (next === current?.level) {
      if (current && o.value !== undefined) {
        current.value = o.value;
        current.windowCount = o.count;
      }
      return [];
    }
    const events: AlertEvent[] = [];
    const value = o.value ?? 0;
    const base = { metric: o.rule.metric, windowCount: o.count, at, value };
    const withComponent = o.component ? { component: o.component } : {};
    if (current && (next === undefined || rank(next) < rank(current.level))) {
      this.active.delete(key);
      events.push({
        ...base,
        ...withComponent,
        state: 'cleared',
        level: current.level,
        raisedValue: current.raisedValue,
        threshold: current.threshold,
        clearThreshold: current.clearThreshold,
      });
    }
    if (next !== undefined) {
      const threshold = o.rule[next];
      const alert: ActiveAlert = {
        ...base,
        ...withComponent,
        level: next,
        raisedValue: value,
        threshold,
        clearThreshold: clearThreshold(threshold, o.rule.direction === 'above', this.hysteresis),
      };
      this.active.set(key, alert);
      events.push({ ...alert, state: 'raised' });
    }
    return events;
  }

  list(): ActiveAlert[] {
    return [...this.active.values()].map((a) => ({ ...a }));
  }

  private levelFor(o: Observation, current: AlertLevel | undefined): AlertLevel | undefined {
    const value = o.value;
    if (value === undefined) return undefined;
    const { rule } = o;
    const above = rule.direction === 'above';
    const enough = o.count >= o.minCount;
    if (isWorse(value, rule.critical, above) && (enough || current === 'critical'))
      return 'critical';
    if (current === 'critical' && !isCleared(value, rule.critical, above, this.hysteresis)) {
      return 'critical';
    }
    if (isWorse(value, rule.warning, above) && (enough || current !== undefined)) return 'warning';
    if (current !== undefined && !isCleared(value, rule.warning, above, this.hysteresis)) {
      return 'warning';
    }
    return undefined;
  }
}

/** At or past the threshold, on the bad side. */
const isWorse = (value: number, threshold: number, above: boolean) =>
  above ? value >= threshold : value <= threshold;

/** Where a level entered at `threshold` clears: back past it by the hysteresis margin. */
const clearThreshold = (threshold: number, above: boolean, hysteresis: number) =>
  above ? threshold * (1 - hysteresis) : threshold * (1 + hysteresis);

/** Back past the threshold by the hysteresis margin, on the good side. */
const isCleared = (value: number, threshold: number, above: boolean, hysteresis: number) =>
  above
    ? value < clearThreshold(threshold, above, hysteresis)
    : value > clearThreshold(threshold, above, hysteresis);

const rank = (level: AlertLevel) => (level === 'critical' ? 2 : 1);
