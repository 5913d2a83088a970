/**
 * Public types of livekit-agents-metrics. Everything a public signature mentions is exported
 * from here (and re-exported by `index.ts`); internal types live beside the code that uses them.
 * The metric names come from the catalog (`src/catalog`), the shapes of `summary()`, turns and
 * alerts from the report schema (`src/wire/schema.ts`).
 *
 * Units: every duration is in milliseconds and every timestamp is epoch milliseconds, as the
 * field names say. Only the exporters convert (Prometheus and OpenTelemetry use seconds).
 */
import type { GuardReason, GuardSource } from './catalog/guard-sources.js';
import type { FrameworkFeature } from './framework/features.js';

export type { FrameworkFeature, GuardReason, GuardSource };
export {
  ALERT_METRICS,
  STAT_NAMES,
  type AlertMetric,
  type AlertThresholds,
  type BottleneckComponent,
  type StatName,
  type UsageComponent,
  type UsageField,
} from './catalog/index.js';
export type {
  ActiveAlert,
  AlertEvent,
  ComponentRequests,
  ConcurrencySnapshot,
  MetricsSummary,
  PluginHealth,
  Stats,
  TurnStage,
  TurnTaking,
  TurnTimeline,
  Usage,
  UsageEntry,
} from './wire/schema.js';
import type {
  AlertMetric,
  AlertThresholds,
  StatName,
  UsageComponent,
  UsageField,
} from './catalog/index.js';
import type {
  AlertEvent,
  MetricsSummary,
  TurnTimeline,
  WireAdjustment,
  WireValueKind,
} from './wire/schema.js';

/** Pipeline components that make requests and can fail. */
export type Component = 'stt' | 'llm' | 'tts' | 'function';

export const COMPONENTS: readonly Component[] = ['stt', 'llm', 'tts', 'function'];

/** Alert rules by metric; merged over {@link DEFAULT_ALERT_RULES}. `false` disables a default. */
export type AlertRules = Partial<Record<AlertMetric, AlertThresholds | false>>;

export type AlertLevel = 'warning' | 'critical';

/** A measurement that completed: the unit every sink consumes. */
export interface MetricSample {
  stat: StatName;
  /** Milliseconds (tokens per second for `tokens_per_sec`). */
  value: number;
  at: number;
  provider?: string;
  model?: string;
  /** Tool name, for `function_execution`. */
  functionName?: string;
  outcome?: 'ok' | 'error';
  /** The turn (speech id) the sample belongs to, when known. */
  turnId?: string;
  /** OpenTelemetry trace id of the turn, when the agent's tracing is on. */
  traceId?: string;
}

/** A provider request or tool execution ended (or was cancelled, or failed and was retried). */
export interface RequestEvent {
  component: Component;
  outcome: 'ok' | 'error' | 'cancelled' | 'retry';
  provider?: string;
  model?: string;
}

/** Usage one provider request reported (each request once), and its cost with a price table. */
export interface UsageEvent {
  component: UsageComponent;
  provider: string;
  model: string;
  amounts: Partial<Record<UsageField, number>>;
  cost?: { currency: string; amount: number };
}

/** A turn-taking event: an interruption, a false interruption, backchannels. */
export type TurnTakingEvent =
  | { kind: 'interruption' }
  | { kind: 'false_interruption'; resumed: boolean }
  | { kind: 'backchannel'; count: number };

/** Something the plugin tolerated, dropped or sent, for its health counters. */
export type HealthEvent =
  | { kind: 'odd_field'; field: string }
  | { kind: 'dropped_sample'; reason: string }
  | { kind: 'internal_error'; where: string; source: GuardSource; reason: GuardReason }
  | { kind: 'message_sent'; type: string }
  | { kind: 'message_dropped'; reason: string }
  /** A feature that rests on the framework's internals turned itself off in this session
   * (src/framework): the framework was not the shape the plugin verified. Once per feature. */
  | { kind: 'feature_disabled'; feature: FrameworkFeature; why: string }
  /** A value a viewer would refuse was clamped or dropped from an outgoing room message. */
  | { kind: 'wire_value_adjusted'; valueKind: WireValueKind; action: WireAdjustment };

/**
 * Where a session's metrics go. The built-in sinks (Prometheus, OpenTelemetry, the room
 * publisher, the `on(...)` listeners) implement it, and so can yours: pass it in
 * `attachMetrics(session, { sinks: [mySink] })`. Every method is optional and called
 * synchronously; an exception is contained, counted in `summary().health.internalErrors` and
 * logged once, and never reaches the agent.
 */
export interface MetricsSink {
  /** A measurement completed (one per stat sample; ms, or tokens/s for `tokens_per_sec`). */
  sample?(sample: MetricSample): void;
  /** A request ended: the raw material of error rates. */
  request?(event: RequestEvent): void;
  /** A provider request's usage (and cost), each request counted once. */
  usage?(event: UsageEvent): void;
  /** An interruption, a false interruption, or backchannels. */
  turnTaking?(event: TurnTakingEvent): void;
  /** A turn completed. */
  turn?(turn: TurnTimeline): void;
  /** An alert level was raised or cleared. */
  alert?(alert: AlertEvent): void;
  /** The plugin counted something about itself. */
  health?(event: HealthEvent): void;
  /** The session closed, or metrics were detached: the last summary. */
  close?(summary: MetricsSummary): void;
}

/** Events a {@link SessionMetrics} emits. */
export interface SessionMetricsEvents {
  turn: (turn: TurnTimeline) => void;
  alert: (alert: AlertEvent) => void;
  sample: (sample: MetricSample) => void;
}
