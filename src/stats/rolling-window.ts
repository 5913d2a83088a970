/**
 * A time window made of fixed slices, so the state is bounded (at most `slices` buckets) and
 * expiry is O(1): a slice older than the window is dropped whole. The window therefore covers
 * between `windowMs - sliceMs` and `windowMs` of history.
 */
export class RollingWindow<T> {
  private readonly sliceMs: number;
  private readonly buckets = new Map<number, T>();

  constructor(
    readonly windowMs: number,
    private readonly createBucket: () => T,
    readonly slices = 10,
  ) {
    this.sliceMs = Math.max(1, Math.ceil(windowMs / slices));
  }

  /** The bucket that covers time `at`, created on demand. */
  bucketAt(at: number): T {
    const key = Math.floor(at / this.sliceMs);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = this.createBucket();
      this.buckets.set(key, bucket);
      this.expire(at);
    }
    return bucket;
  }

  /** Buckets still inside the window at time `now`. */
  live(now: number): IterableIterator<T> {
    this.expire(now);
    return this.buckets.values();
  }

  private expire(now: number): void {
    const oldestKey = Math.floor(now / this.sliceMs) - this.slices + 1;
    for (const key of this.buckets.keys()) if (key < oldestKey) this.buckets.delete(key);
  }
}
