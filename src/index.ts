/**
 * `livekit-agents-metrics`: the public API. Every name here is a semver promise, recorded in
 * api/index.api.md (`npm run api:check`); internals are imported by relative path and never
 * exported (docs/DEVELOPMENT.md, "Public API"). Every type in a public signature is exported.
 */
import type { SessionMetrics as SessionMetricsClass } from './attach.js';
import type { MetricsRuntime as MetricsRuntimeClass } from './runtime.js';

// Attach to a session; the process's shared state
export { attachMetrics } from './attach.js';
/** What {@link attachMetrics} returns. A type only: sessions are attached, never constructed.
 * (An alias, because the declaration bundler drops `type` from `export { type SomeClass }`.) */
export type SessionMetrics = SessionMetricsClass;
export {
  createMetricsRuntime,
  defaultMetricsRuntime,
  type MetricsRuntimeOptions,
} from './runtime.js';
/** A process's shared metrics state, from {@link createMetricsRuntime} or
 * {@link defaultMetricsRuntime}. A type only, as {@link SessionMetrics}. */
export type MetricsRuntime = MetricsRuntimeClass;
export { MetricsConfigError, type ConfigProblem } from './errors.js';
export type {
  AttachMetricsOptions,
  HeardLatencyOptions,
  MetricsLocalParticipant,
  MetricsLogger,
  MetricsRoom,
  PublishOptions,
} from './options.js';
export type { ModelPrice, PriceTable } from './usage/prices.js';
export { DEFAULT_ALERT_RULES } from './alerts/rules.js';

// Prometheus: the metrics server, its default buckets, the rules generator
export {
  startMetricsServer,
  type MetricsAuth,
  type MetricsServer,
  type MetricsRegistry,
  type MetricsServerOptions,
} from './prometheus/metrics-server.js';
export { DEFAULT_BUCKETS, type BucketLayout } from './prometheus/metric-families.js';
export { generatePrometheusRules, type PrometheusRulesOptions } from './prometheus/rules.js';

// What users read: summary, stats, turns, alerts, usage, health; the sink interface
export { ALERT_METRICS, COMPONENTS, STAT_NAMES } from './types.js';
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
  StatName,
  Stats,
  TurnStage,
  TurnTaking,
  TurnTakingEvent,
  TurnTimeline,
  Usage,
  UsageComponent,
  UsageEntry,
  UsageEvent,
  UsageField,
} from './types.js';
export { alertText, formatValue } from './catalog/format.js';

// Reading what an agent publishes on the data channel (docs/DATA-CHANNEL.md)
export { decodeMessage } from './wire/decode.js';
export { DEFAULT_TOPIC, summaryRpcMethod } from './wire/messages.js';
export type { AlertMessage, MetricsMessage, SummaryMessage, TurnMessage } from './wire/messages.js';
export {
  MetricsFeed,
  type AgentMetricsState,
  type MetricsFeedOptions,
} from './view/metrics-feed.js';
