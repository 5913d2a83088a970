import type { MetricSample } from '../types.js';

/** A sample's value for one of its family's labels (the catalog's `prometheus.labels`), as every
 * exporter sets it. */
export function sampleLabelValue(label: string, s: MetricSample): string {
  switch (label) {
    case 'function':
      return s.functionName ?? 'unknown';
    case 'outcome':
      return s.outcome ?? 'ok';
    case 'provider':
      return s.provider ?? 'unknown';
    case 'model':
      return s.model ?? 'unknown';
    default:
      return '';
  }
}
