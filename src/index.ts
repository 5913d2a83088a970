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
export {
  DEFAULT_TOPIC,
  MAX_MESSAGE_BYTES,
  WIRE_VERSION,
  summaryRpcMethod,
} from './wire/messages.js';
export type {
  AlertMessage,
  MetricsMessage,
  MetricsMessageType,
  SummaryMessage,
  SummaryRequestMessage,
  TurnMessage,
} from './wire/messages.js';
export { decodeMessage, decodeSummaryRequest } from './wire/decode.js';
export {
  MetricsFeed,
  type AgentMetricsState,
  type MetricsFeedOptions,
} from './view/metrics-feed.js';
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
  MetricsLocalParticipant,
  MetricsLogger,
  MetricsRoom,
  MetricsSummary,
  PluginHealth,
  PublishOptions,
  SessionMetricsEvents,
  StatName,
  Stats,
  TurnStage,
  TurnTimeline,
} from './types.js';
