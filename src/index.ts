export { attachMetrics, SessionMetrics } from './attach.js';
export {
  createMetricsRuntime,
  defaultMetricsRuntime,
  MetricsRuntime,
  type MetricsRuntimeOptions,
} from './runtime.js';
export { DEFAULT_ALERT_RULES } from './alerts/rules.js';
export { MetricsConfigError, type ConfigProblem } from './errors.js';
export {
  STAT_CATALOG,
  FAMILY_CATALOG,
  USAGE_CATALOG,
  ERROR_RATE,
  type FamilyDef,
  type PriceField,
  type UsageDef,
  type MetricComponent,
  type MetricUnit,
  type RateDef,
  type StatDef,
} from './catalog/index.js';
export { alertText, formatValue } from './catalog/format.js';
export { generatePrometheusRules } from './prometheus/rules.js';
export type { PrometheusRulesOptions } from './prometheus/rules.js';
export {
  startMetricsServer,
  type MetricsAuth,
  type MetricsServer,
  type MetricsRegistry,
  type MetricsServerOptions,
} from './prometheus/metrics-server.js';
export {
  DEFAULT_BUCKETS,
  DEFAULT_LATENCY_BUCKETS_SECONDS,
  DEFAULT_THROUGHPUT_BUCKETS,
  type BucketLayout,
} from './prometheus/metric-families.js';
export { ALERT_METRICS, COMPONENTS, STAT_NAMES } from './types.js';
export type { ModelPrice, PriceTable } from './usage/prices.js';
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
  AttachMetricsOptions,
  HeardLatencyOptions,
  MetricsLocalParticipant,
  MetricsLogger,
  MetricsRoom,
  PublishOptions,
} from './options.js';
export type {
  ActiveAlert,
  AlertEvent,
  AlertLevel,
  AlertMetric,
  AlertRules,
  AlertThresholds,
  BottleneckComponent,
  Component,
  ComponentRequests,
  ConcurrencySnapshot,
  HealthEvent,
  MetricSample,
  MetricsSink,
  MetricsSummary,
  PluginHealth,
  RequestEvent,
  SessionMetricsEvents,
  TurnTaking,
  TurnTakingEvent,
  Usage,
  UsageComponent,
  UsageEntry,
  UsageEvent,
  UsageField,
  StatName,
  Stats,
  TurnStage,
  TurnTimeline,
} from './types.js';
