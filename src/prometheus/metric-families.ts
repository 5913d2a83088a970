/**
 * The Prometheus families are the catalog's (`src/catalog`); this file adds what only the
 * exporter needs: the histograms' bucket layouts.
 */
export {
  FAMILIES,
  FAMILY_KEYS,
  type FamilyKey,
  type PrometheusFamily,
} from '../catalog/families.js';

/** Latency histograms in seconds. They include the spec's alert thresholds (1.5, 2, 2.5, 3.5 s)
 * so a rule on a threshold reads a bucket boundary rather than an interpolation. */
export const DEFAULT_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 5, 7.5, 10, 20,
];
export const DEFAULT_THROUGHPUT_BUCKETS: readonly number[] = [
  5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500,
];

export interface BucketLayout {
  latency: readonly number[];
  throughput: readonly number[];
}

export const DEFAULT_BUCKETS: BucketLayout = {
  latency: DEFAULT_LATENCY_BUCKETS_SECONDS,
  throughput: DEFAULT_THROUGHPUT_BUCKETS,
};
