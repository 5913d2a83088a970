/**
 * Public types of livekit-agents-metrics. Everything a public signature mentions is exported
 * from here (and re-exported by `index.ts`); internal types live beside the code that uses them.
 *
 * Units: every duration is in milliseconds and every timestamp is epoch milliseconds, as the
 * field names say. Only the Prometheus exporter converts to seconds.
 */

/** Latency and throughput series the plugin keeps statistics for. */
export type StatName =
  | 'stt_latency'
  | 'ttft'
  | 'ttlt'
  | 'tts_latency'
  | 'function_execution'
  | 'e2e_latency'
  | 'tokens_per_sec';

/** Every {@link StatName}, in pipeline order. */
export const STAT_NAMES: readonly StatName[] = [
  'stt_latency',
  'ttft',
  'ttlt',
  'function_execution',
  'tts_latency',
  'e2e_latency',
  'tokens_per_sec',
];

/** Pipeline components that make requests and can fail. */
export type Component = 'stt' | 'llm' | 'tts' | 'function';

export const COMPONENTS: readonly Component[] = ['stt', 'llm', 'tts', 'function'];

/** The components {@link SessionMetrics.bottleneck} chooses from. */
export type BottleneckComponent = 'stt' | 'llm' | 'tts';

/**
 * Distribution summary of one series. Values are milliseconds (tokens per second for
 * `tokens_per_sec`); every field but `count` is `null` while there is no sample.
 * Percentiles interpolate linearly between samples (numpy's default) while the series holds at
 * most `exactSamples` values, and come from a DDSketch with 1% relative accuracy beyond that.
 */
export interface Stats {
  count: number;
  avg: number | null;
  min: number | null;
  max: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
}

/** Warning and critical thresholds of one alert rule. */
export interface AlertThresholds {
  /** Level at which a `warning` alert is raised. */
  warning: number;
  /** Level at which a `critical` alert is raised. */
  critical: number;
}

/** Metrics an alert rule can watch: a stat's rolling p90, or a component's error rate. */
export type AlertMetric = StatName | 'error_rate';

/** Alert rules by metric; merged over {@link DEFAULT_ALERT_RULES}. `false` disables a default. */
export type AlertRules = Partial<Record<AlertMetric, AlertThresholds | false>>;

export type AlertLevel = 'warning' | 'critical';

/** An alert raised or cleared; also the shape of `summary().alerts` entries. */
export interface AlertEvent {
  /** `raised` when a level is entered or escalated; `cleared` when back to normal. */
  state: 'raised' | 'cleared';
  metric: AlertMetric;
  /** For `error_rate`, the component; otherwise absent. */
  component?: Component;
  /** The level now in force (`cleared` events carry the level that was cleared). */
  level: AlertLevel;
  /** The observed value: rolling p90 in ms, tokens/s, or error rate in percent. */
  value: number;
  /** The threshold that was crossed. */
  threshold: number;
  /** Samples (or requests) in the rolling window when evaluated. */
  windowCount: number;
  at: number;
}

/** Active alert, as listed in `summary().alerts`. */
export type ActiveAlert = Omit<AlertEvent, 'state'>;

/** One stage of a turn's timeline. */
export interface TurnStage {
  stage: 'stt' | 'end_of_turn' | 'llm' | 'function' | 'tts';
  /** Tool name, for `function` stages. */
  name?: string;
  /** Epoch ms at which the stage started. */
  startAt: number;
  /** Milliseconds from the turn's start to the stage's start (may be negative for a stage that
   * began before the turn's anchor, e.g. preemptive generation). */
  offsetMs: number;
  durationMs: number;
  /** Time to first output within the stage: TTFT for `llm`, TTFB for `tts`. */
  firstOutputMs?: number;
  outcome?: 'ok' | 'error' | 'cancelled';
}

/** Per-turn timeline: where the time went between the user's turn and the agent's answer. */
export interface TurnTimeline {
  /** The framework's speech id of the agent's answer. */
  id: string;
  /** How the user's turn arrived: `voice`, `text`, or `none` (the agent spoke unprompted). */
  input: 'voice' | 'text' | 'none';
  /** Epoch ms the turn's clock starts at: user stopped speaking (voice), user turn committed
   * (text), or the speech's creation (`none`). */
  startedAt: number;
  endedAt: number;
  userStoppedSpeakingAt?: number;
  agentStartedSpeakingAt?: number;
  /** Turn start to agent audio (or answer) start; absent when the agent never started. */
  e2eLatencyMs?: number;
  interrupted: boolean;
  /** The speech ended without the agent ever starting to answer (e.g. a failed LLM). */
  cancelled: boolean;
  /** OpenTelemetry trace id of the turn, when the agent's tracing is on. */
  traceId?: string;
  stages: TurnStage[];
}

/** Error-rate accounting of one component. */
export interface ComponentRequests {
  /** Requests that ended, successfully or not (cancelled ones excluded). */
  requests: number;
  errors: number;
  /** Requests cancelled by an interruption; in neither `requests` nor `errors`. */
  cancelled: number;
  /** Failed attempts that the framework retried. */
  retries: number;
  /** errors / requests × 100; `null` before the first request. */
  error_rate: number | null;
}

export interface ConcurrencySnapshot {
  /** Sessions with attached metrics that have not closed, in this process. */
  active_sessions: number;
  peak_sessions: number;
  /** Tool executions running now in this session. */
  active_tools: number;
  peak_tools: number;
}

/** The plugin's own health: what it tolerated or dropped. */
export interface PluginHealth {
  /** Events with a missing or odd field that was ignored, by field (e.g. `llm_metrics.ttftMs`). */
  odd_fields: Record<string, number>;
  /** Listener invocations that threw inside the plugin and were contained. */
  internal_errors: number;
  /** Samples dropped (e.g. negative or non-finite values), by reason. */
  dropped_samples: Record<string, number>;
  /** Data-channel messages not delivered, by reason: `not_connected` (the room was not
   * connected), `publish_failed` (the room refused it), `too_large` (could not be made to fit). */
  dropped_messages: Record<string, number>;
}

/** JSON-serializable snapshot returned by `summary()`. Numbers are ms unless named otherwise. */
export interface MetricsSummary {
  v: 1;
  at: number;
  labels: Record<string, string>;
  turns: number;
  interrupted_turns: number;
  cancelled_turns: number;
  stt: { latency: Stats; error_rate: number | null; requests: ComponentRequests };
  llm: {
    ttft: Stats;
    ttlt: Stats;
    token_rate: Stats;
    error_rate: number | null;
    requests: ComponentRequests;
  };
  tts: { latency: Stats; error_rate: number | null; requests: ComponentRequests };
  function: {
    execution: Stats;
    error_rate: number | null;
    requests: ComponentRequests;
    by_name: Record<string, { count: number; errors: number; avg: number | null }>;
  };
  e2e: { latency: Stats };
  concurrency: ConcurrencySnapshot;
  bottleneck: BottleneckComponent | null;
  alerts: ActiveAlert[];
  health: PluginHealth;
}

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

/** Events a {@link SessionMetrics} emits. */
export interface SessionMetricsEvents {
  turn: (turn: TurnTimeline) => void;
  alert: (alert: AlertEvent) => void;
  sample: (sample: MetricSample) => void;
}

/** Minimal logger the plugin writes to (pino-compatible). */
export interface MetricsLogger {
  warn(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/** Options of `attachMetrics`. */
export interface AttachMetricsOptions {
  /** Constant dimensions (e.g. `{ agent_name: 'support' }`), copied into summaries and used by
   * every sink. Keys must be valid Prometheus label names. Default: `{}`. */
  labels?: Record<string, string>;
  /** Alert rules merged over {@link DEFAULT_ALERT_RULES}. Default: the defaults. */
  alerts?: AlertRules;
  /** Rolling window the alert rules evaluate over, in ms. Default: `300_000` (5 minutes). */
  alertWindowMs?: number;
  /** Samples needed in the window before a latency alert can be raised. Default: `1`. */
  alertMinSamples?: number;
  /** Requests needed in the window before an error-rate alert can be raised. Default: `5`. */
  alertMinRequests?: number;
  /** An alert clears only when the value is this fraction below (or above, for
   * `tokens_per_sec`) the threshold it crossed, so it does not flap. Default: `0.1`. */
  alertHysteresis?: number;
  /** Completed turns kept for `turns()`. Default: `50`. */
  maxTurns?: number;
  /** Samples per series kept exactly before switching to a DDSketch. Default: `1024`. */
  exactSamples?: number;
  /** Distinct tool names tracked in `summary().function.by_name` before new names fold into
   * `other` (names come from the LLM and can be invented). Default: `50`. */
  maxFunctionNames?: number;
  /** Where warnings go (a recurring problem is logged once). Default: `console`-backed. */
  logger?: MetricsLogger;
  /** Clock, for tests. Default: `Date.now`. */
  now?: () => number;
  /** Record into this process's Prometheus series (served by `startMetricsServer` here, or
   * delivered to the worker's hub from a job process). Default: `true`. */
  prometheus?: boolean;
  /** The job's room (`ctx.room`, an `@livekit/rtc-node` Room). With it, the session's summaries,
   * turns and alerts are published to the room's participants over the data channel (see
   * `publish`). Default: none (nothing is published). */
  room?: MetricsRoom;
  /** How to publish to `room`, or `false` not to publish. Default: `{}` (every default below). */
  publish?: PublishOptions | false;
}

/** Data-channel publishing options (see `AttachMetricsOptions.publish`). */
export interface PublishOptions {
  /** Data topic. Must not start with `lk.` (LiveKit's own topics). Default: `'agent-metrics'`. */
  topic?: string;
  /** Shortest time between two `summary` messages, in ms; a summary is only sent when it changed.
   * From 100 to 600000. Default: `2000`. */
  intervalMs?: number;
  /** Identities of the participants to send to. Default: every participant in the room. */
  destinationIdentities?: string[];
}

/** The parts of an `@livekit/rtc-node` Room the publisher uses (the job's `ctx.room` fits). */
export interface MetricsRoom {
  readonly isConnected: boolean;
  readonly name: string | undefined;
  readonly localParticipant?: MetricsLocalParticipant | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each event has its own arguments
  on(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/** The parts of an `@livekit/rtc-node` LocalParticipant the publisher uses. */
export interface MetricsLocalParticipant {
  publishData(
    data: Uint8Array,
    options: { reliable?: boolean; topic?: string; destination_identities?: string[] },
  ): Promise<void>;
  registerRpcMethod?(
    method: string,
    handler: (data: { callerIdentity: string; payload: string }) => Promise<string>,
  ): void;
  unregisterRpcMethod?(method: string): void;
}
