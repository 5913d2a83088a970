import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';
import type { Stats } from '../types.js';
import { emptyStats } from '../wire/schema.js';

/** DDSketch accuracy: a reported quantile is within 1% of the true value at that rank. */
export const SKETCH_RELATIVE_ACCURACY = 0.01;
/** Caps the sketch's bins, so memory is bounded even for absurd value ranges. */
const SKETCH_BIN_LIMIT = 2048;

export const REPORTED_QUANTILES = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 } as const;

/**
 * A bounded-memory distribution of non-negative values. It keeps the values themselves while
 * there are at most `exactLimit` of them (so small series get exact, linearly interpolated
 * percentiles, as numpy computes them), then folds them into a DDSketch: mergeable state
 * that later stages can combine across sessions and processes without averaging percentiles.
 */
export class Distribution {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  private exact: number[] | undefined = [];
  private sorted = true;
  private sketch: LogCollapsingLowestDenseDDSketch | undefined;

  constructor(readonly exactLimit: number) {}

  add(value: number): void {
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (this.exact) {
      if (this.sorted && this.exact.length > 0 && value < this.exact[this.exact.length - 1]!) {
        this.sorted = false;
      }
      this.exact.push(value);
      if (this.exact.length > this.exactLimit) this.foldIntoSketch();
    } else {
      this.sketch!.accept(value);
    }
  }

  /** Adds every value of `other` (which is left unchanged). */
  merge(other: Distribution): void {
    if (other.count === 0) return;
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    if (this.exact && other.exact && this.exact.length + other.exact.length <= this.exactLimit) {
      this.exact.push(...other.exact);
      this.sorted = false;
      return;
    }
    if (this.exact) this.foldIntoSketch();
    if (other.exact) for (const v of other.exact) this.sketch!.accept(v);
    else this.sketch!.merge(other.sketch!);
  }

  /** The value at quantile `q` (0..1), or `null` when empty. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    if (this.exact) return interpolatedQuantile(this.sortedValues(), q);
    // Clamp into the observed range: the sketch's bucket midpoints can overshoot it.
    return Math.min(this.max, Math.max(this.min, this.sketch!.getValueAtQuantile(q)));
  }

  stats(): Stats {
    if (this.count === 0) return emptyStats();
    return {
      count: this.count,
      avg: this.sum / this.count,
      min: this.min,
      max: this.max,
      p50: round(this.quantile(REPORTED_QUANTILES.p50)),
      p90: round(this.quantile(REPORTED_QUANTILES.p90)),
      p95: round(this.quantile(REPORTED_QUANTILES.p95)),
      p99: round(this.quantile(REPORTED_QUANTILES.p99)),
    };
  }

  /** Whether the distribution still holds exact values (for tests and benchmarks). */
  get isExact(): boolean {
    return this.exact !== undefined;
  }

  private sortedValues(): number[] {
    if (!this.sorted) {
      this.exact!.sort((a, b) => a - b);
      this.sorted = true;
    }
    return this.exact!;
  }

  private foldIntoSketch(): void {
    this.sketch = new LogCollapsingLowestDenseDDSketch({
      relativeAccuracy: SKETCH_RELATIVE_ACCURACY,
      binLimit: SKETCH_BIN_LIMIT,
    });
    for (const v of this.exact!) this.sketch.accept(v);
    this.exact = undefined;
  }
}

/** Percentile with linear interpolation between closest ranks (numpy's default method). */
export function interpolatedQuantile(sorted: readonly number[], q: number): number {
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  const lo = sorted[lower]!;
  return lo + (sorted[upper]! - lo) * (position - lower);
}

/** To the microsecond (of ms): interpolation leaves float noise such as 372.90000000000003. */
function round(value: number | null): number | null {
  return value === null ? null : Math.round(value * 1000) / 1000;
}
