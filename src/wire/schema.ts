/**
 * The one source of the report format's shapes: valibot schemas that give both the TypeScript
 * types (`summary()`, turn timelines, alerts, data-channel messages) and the validation a
 * receiver runs on untrusted input. The stats and alert metrics come from the metric catalog, so
 * a new metric is accepted by every receiver built with it.
 *
 * Every number is bounded to a sane range for its meaning (not just finite), every string is
 * capped, every list and record is cut to a bounded length, and records keyed by received names
 * have no prototype. Isomorphic.
 */
import * as v from 'valibot';
import { ALERT_METRICS, STAT_NAMES, type StatName, statDef } from '../catalog/index.js';

/** Longest string a receiver keeps (longer ones are cut). */
export const MAX_STRING = 256;
/** Longest list, and most record entries, a receiver keeps. */
export const MAX_LIST = 64;

/** A day: no duration the plugin measures is longer. */
const MAX_DURATION_MS = 86_400_000;
/** Epoch ms up to the year 2286. */
const MAX_EPOCH_MS = 1e13;
const MAX_TOKENS_PER_SEC = 1e6;

const bounded = (min: number, max: number) =>
  v.pipe(v.number(), v.finite(), v.minValue(min), v.maxValue(max));
const count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const epochMs = bounded(0, MAX_EPOCH_MS);
const durationMs = bounded(0, MAX_DURATION_MS);
const offsetMs = bounded(-MAX_DURATION_MS, MAX_DURATION_MS);
const percent = bounded(0, 100);
/** Any metric's value: the widest of the catalog's units. */
const metricValue = bounded(0, Math.max(MAX_DURATION_MS, MAX_TOKENS_PER_SEC));
const text = v.pipe(
  v.string(),
  v.transform((s) => (s.length > MAX_STRING ? s.slice(0, MAX_STRING) : s)),
);
const list = <T extends v.GenericSchema>(item: T) =>
  v.pipe(
    v.array(v.unknown()),
    v.transform((items) => items.slice(0, MAX_LIST)),
    v.array(item),
  );
const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** A record keyed by received names: cut to {@link MAX_LIST} entries, keys capped, and built
 * without a prototype, so a key such as `__proto__` or `constructor` stays an ordinary entry. */
const record = <T extends v.GenericSchema>(value: T) =>
  v.pipe(
    v.custom<Record<string, unknown>>(isRecord, 'expected an object'),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const out: Record<string, v.InferOutput<T>> = Object.create(null);
      for (const [key, entry] of Object.entries(dataset.value).slice(0, MAX_LIST)) {
        const parsed = v.safeParse(value, entry);
        if (!parsed.success) {
          addIssue({ message: 'invalid record entry' });
          return NEVER;
        }
        out[key.slice(0, MAX_STRING)] = parsed.output;
      }
      return out;
    }),
  );
const withDefault = <T extends v.GenericSchema>(schema: T, fallback: v.InferOutput<T>) =>
  v.optional(schema, () => structuredClone(fallback));

/** Distribution summary of one series, in its metric's unit; `null`s while it has no sample. */
const statsOf = (max: number) => {
  const value = v.nullable(bounded(0, max));
  return v.object({
    count,
    avg: value,
    min: value,
    max: value,
    p50: value,
    p90: value,
    p95: value,
    p99: value,
  });
};
export const StatsSchema = statsOf(MAX_DURATION_MS);
export type Stats = v.InferOutput<typeof StatsSchema>;

/** A stats object with no samples. */
export const emptyStats = (): Stats => ({
  count: 0,
  avg: null,
  min: null,
  max: null,
  p50: null,
  p90: null,
  p95: null,
  p99: null,
});

const statsEntries = Object.fromEntries(
  STAT_NAMES.map((name) => [
    name,
    // A summary from an agent built before a stat existed lacks it: it reads as empty.
    v.optional(
      statsOf(statDef(name).unit === 'ms' ? MAX_DURATION_MS : MAX_TOKENS_PER_SEC),
      emptyStats,
    ),
  ]),
) as Record<StatName, v.OptionalSchema<typeof StatsSchema, typeof emptyStats>>;

const component = v.picklist(['stt', 'llm', 'tts', 'function']);

export const ComponentRequestsSchema = v.object({
  /** Requests that ended, successfully or not (cancelled ones excluded). */
  requests: count,
  errors: count,
  /** Requests cancelled by an interruption; in neither `requests` nor `errors`. */
  cancelled: count,
  /** Failed attempts that the framework retried. */
  retries: count,
  /** errors / requests × 100; `null` before the first request. */
  errorRate: v.nullable(percent),
});
export type ComponentRequests = v.InferOutput<typeof ComponentRequestsSchema>;

const noRequests = (): ComponentRequests => ({
  requests: 0,
  errors: 0,
  cancelled: 0,
  retries: 0,
  errorRate: null,
});

export const ActiveAlertSchema = v.object({
  metric: v.picklist(ALERT_METRICS),
  /** For `error_rate`, the component; otherwise absent. */
  component: v.optional(component),
  /** The level now in force (`cleared` events carry the level that was cleared). */
  level: v.picklist(['warning', 'critical']),
  /** The observed value now, in the metric's unit (rolling p90, or error rate in percent). */
  value: metricValue,
  /** The value when the level was entered. */
  raisedValue: metricValue,
  /** The threshold that was crossed. */
  threshold: metricValue,
  /** The level clears only once the value is past this (the threshold less the hysteresis). */
  clearThreshold: metricValue,
  /** Samples (or requests) in the rolling window when evaluated. */
  windowCount: count,
  at: epochMs,
});
export type ActiveAlert = v.InferOutput<typeof ActiveAlertSchema>;

export const AlertEventSchema = v.object({
  ...ActiveAlertSchema.entries,
  /** `raised` when a level is entered or escalated; `cleared` when back to normal. */
  state: v.picklist(['raised', 'cleared']),
});
export type AlertEvent = v.InferOutput<typeof AlertEventSchema>;

/** Alerts a receiver can't read (e.g. a metric it does not know yet) are left out, not fatal. */
const alertList = v.pipe(
  v.array(v.unknown()),
  v.transform((items) =>
    items.slice(0, MAX_LIST).flatMap((item) => {
      const parsed = v.safeParse(ActiveAlertSchema, item);
      return parsed.success ? [parsed.output] : [];
    }),
  ),
);

export const TurnStageSchema = v.object({
  stage: v.picklist(['stt', 'end_of_turn', 'llm', 'function', 'tts']),
  /** Tool name, for `function` stages. */
  name: v.optional(text),
  /** Epoch ms at which the stage started. */
  startAt: epochMs,
  /** From the turn's start to the stage's start; negative for a stage that began before the
   * turn's anchor (e.g. preemptive generation). */
  offsetMs,
  durationMs,
  /** Time to first output within the stage: TTFT for `llm`, TTFB for `tts`. */
  firstOutputMs: v.optional(durationMs),
  outcome: v.optional(v.picklist(['ok', 'error', 'cancelled'])),
});
export type TurnStage = v.InferOutput<typeof TurnStageSchema>;

export const TurnTimelineSchema = v.object({
  /** The framework's speech id of the agent's answer. */
  id: text,
  /** How the user's turn arrived: `voice`, `text`, or `none` (the agent spoke unprompted). */
  input: v.picklist(['voice', 'text', 'none']),
  /** Epoch ms the turn's clock starts at: user stopped speaking (voice), user turn committed
   * (text), or the speech's creation (`none`). */
  startedAt: epochMs,
  endedAt: epochMs,
  userStoppedSpeakingAt: v.optional(epochMs),
  agentStartedSpeakingAt: v.optional(epochMs),
  /** Turn start to agent audio (or answer) start; absent when the agent never started. */
  e2eLatencyMs: v.optional(durationMs),
  interrupted: v.boolean(),
  /** The speech ended without the agent ever starting to answer (e.g. a failed LLM). */
  cancelled: v.boolean(),
  /** OpenTelemetry trace id of the turn, when the agent's tracing is on. */
  traceId: v.optional(text),
  stages: list(TurnStageSchema),
});
export type TurnTimeline = v.InferOutput<typeof TurnTimelineSchema>;

export const FunctionSummarySchema = v.object({
  /** Executions that ended (ok or error). */
  count,
  errors: count,
  /** Mean duration in ms of the executions that reached the stats. */
  avg: v.nullable(durationMs),
});

export const PluginHealthSchema = v.object({
  /** Events with a missing or odd field that was ignored, by field (e.g. `llm_metrics.ttftMs`). */
  oddFields: withDefault(record(count), {}),
  /** Listener invocations that threw inside the plugin and were contained. */
  internalErrors: withDefault(count, 0),
  /** Samples dropped (e.g. negative or non-finite values), by reason. */
  droppedSamples: withDefault(record(count), {}),
  /** Data-channel messages not delivered, by reason: `not_connected`, `publish_failed`,
   * `too_large`. */
  droppedMessages: withDefault(record(count), {}),
});
export type PluginHealth = v.InferOutput<typeof PluginHealthSchema>;

export const ConcurrencySchema = v.object({
  /** Sessions with attached metrics that have not closed, in this process. */
  activeSessions: count,
  peakSessions: count,
  /** Tool executions running now in this session. */
  activeTools: count,
  peakTools: count,
});
export type ConcurrencySnapshot = v.InferOutput<typeof ConcurrencySchema>;

/** `summary()`: a JSON-serializable snapshot of everything. Numbers are in their metric's unit
 * (ms for durations). */
export const SummarySchema = v.object({
  v: v.literal(2),
  at: epochMs,
  labels: withDefault(record(text), {}),
  turns: count,
  interruptedTurns: withDefault(count, 0),
  cancelledTurns: withDefault(count, 0),
  /** Every stat of the catalog, by name. */
  stats: v.object(statsEntries),
  /** Requests and error rate of each component. */
  components: v.object({
    stt: withDefault(ComponentRequestsSchema, noRequests()),
    llm: withDefault(ComponentRequestsSchema, noRequests()),
    tts: withDefault(ComponentRequestsSchema, noRequests()),
    function: withDefault(ComponentRequestsSchema, noRequests()),
  }),
  /** Tool executions by tool name (at most `maxFunctionNames`, then `other`). */
  functions: withDefault(record(FunctionSummarySchema), {}),
  concurrency: ConcurrencySchema,
  /** The component with the highest p90 latency, `null` without data. */
  bottleneck: v.nullable(v.picklist(['stt', 'llm', 'tts'])),
  alerts: withDefault(alertList, []),
  health: withDefault(PluginHealthSchema, {
    oddFields: {},
    internalErrors: 0,
    droppedSamples: {},
    droppedMessages: {},
  }),
});
export type MetricsSummary = v.InferOutput<typeof SummarySchema>;

const messageBase = {
  v: v.literal(2),
  /** Random id of the publishing session; a new id from the same participant means a new
   * session. */
  session: text,
  /** Per-publisher sequence number, from 1; a receiver drops stale or repeated messages. */
  seq: count,
  /** Epoch ms at which the publisher built the message. */
  at: epochMs,
  /** Name of the room the agent is in. */
  room: text,
  /** What was left out to stay under the size limit (e.g. `functions`); absent when nothing
   * was. */
  shed: v.optional(list(text)),
};

/** The session's `summary()`: sent at most every `intervalMs` while it changes, to a joining
 * participant, in answer to the summary RPC, and once more (`final: true`) when the session
 * closes. */
export const SummaryMessageSchema = v.object({
  ...messageBase,
  type: v.literal('summary'),
  /** The session closed and this is its last summary (only an exact `true` counts). */
  final: v.optional(
    v.pipe(
      v.unknown(),
      v.transform((x) => x === true),
    ),
    false,
  ),
  summary: SummarySchema,
});
export type SummaryMessage = v.InferOutput<typeof SummaryMessageSchema>;

/** A turn completed: its timeline (STT → end of turn → LLM → tools → TTS). */
export const TurnMessageSchema = v.object({
  ...messageBase,
  type: v.literal('turn'),
  turn: TurnTimelineSchema,
});
export type TurnMessage = v.InferOutput<typeof TurnMessageSchema>;

/** An alert level was raised or cleared. */
export const AlertMessageSchema = v.object({
  ...messageBase,
  type: v.literal('alert'),
  alert: AlertEventSchema,
});
export type AlertMessage = v.InferOutput<typeof AlertMessageSchema>;

export const MetricsMessageSchema = v.variant('type', [
  SummaryMessageSchema,
  TurnMessageSchema,
  AlertMessageSchema,
]);
export type MetricsMessage = v.InferOutput<typeof MetricsMessageSchema>;

/**
 * The one message a viewer sends: it asks the agent to send it the current summary. It serves
 * viewers the RPC can't reach: LiveKit does not deliver RPCs from hidden participants (such as
 * `watch`), but it does deliver their data.
 */
export const SummaryRequestSchema = v.object({
  v: v.literal(2),
  type: v.literal('summary_request'),
  /** The asker's identity, used only when the transport does not name the sender (a hidden
   * participant's packet); still only a participant allowed to receive the metrics. */
  identity: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_STRING)),
});
export type SummaryRequestMessage = v.InferOutput<typeof SummaryRequestSchema>;
