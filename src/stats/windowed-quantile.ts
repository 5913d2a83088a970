import { interpolatedQuantile } from './distribution.js';

/**
 * Quantiles over a sliding time window, kept incrementally: the window's values are held sorted
 * (binary-search insert and removal) beside a FIFO of arrival order for expiry, so reading a
 * quantile costs nothing and adding a value costs a binary search. It holds at most `capacity`
 * values (the oldest leave first), which bounds memory whatever the sample rate.
 */
export class WindowedQuantile {
  private readonly sorted: number[] = [];
  private readonly times: number[] = [];
  private readonly values: number[] = [];
  private head = 0;

  constructor(
    readonly windowMs: number,
    readonly capacity: number,
  ) {}

  add(at: number, value: number): void {
    this.expire(at);
    if (this.size >= this.capacity) this.removeOldest();
    this.times.push(at);
    this.values.push(value);
    this.sorted.splice(upperBound(this.sorted, value), 0, value);
  }

  /** Values in the window ending at `now`. */
  count(now: number): number {
    this.expire(now);
    return this.size;
  }

  /** The value at quantile `q` of the window ending at `now`, or undefined when it is empty. */
  quantile(q: number, now: number): number | undefined {
    this.expire(now);
    return this.size === 0 ? undefined : interpolatedQuantile(this.sorted, q);
  }

  private get size(): number {
    return this.times.length - this.head;
  }

  private expire(now: number): void {
    const oldest = now - this.windowMs;
    while (this.size > 0 && this.times[this.head]! <= oldest) this.removeOldest();
  }

  private removeOldest(): void {
    const value = this.values[this.head]!;
    this.head += 1;
    this.sorted.splice(lowerBound(this.sorted, value), 1);
    // compact the FIFO once its consumed prefix dominates
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.values.splice(0, this.head);
      this.head = 0;
    }
  }
}

function lowerBound(a: number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(a: number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
