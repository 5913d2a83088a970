export { attachMetrics, SessionMetrics } from './attach.js';
export { DEFAULT_ALERT_RULES } from './alerts/rules.js';
export { MetricsConfigError } from './errors.js';
export { generatePrometheusRules } from './prometheus/rules.js';
export type { PrometheusRulesOptions } from './prometheus/rules.js';
export {
  startMetricsServer,
  type MetricsAuth,
  type MetricsServer,
  type MetricsServerOptions,
} from './prometheus/metrics-server.js';
export {
  DEFAULT_BUCKETS,
  DEFAULT_LATENCY_BUCKETS_SECONDS,
  DEFAULT_THROUGHPUT_BUCKETS,
  type BucketLayout,
} from './prometheus/metric-families.js';
export { COMPONENTS, STAT_NAMES } from './types.js';
export type {
  ActiveAlert,
  AlertEvent,
  AlertLevel,
  AlertMetric,
  AlertRules,
  AlertThresholds,
  AttachMetricsOptions,
  BottleneckComponent,
  Component,
  ComponentRequests,
  ConcurrencySnapshot,
  MetricSample,
  MetricsLogger,
  MetricsSummary,
  PluginHealth,
  SessionMetricsEvents,
  StatName,
  Stats,
  TurnStage,
  TurnTimeline,
} from './types.js';
