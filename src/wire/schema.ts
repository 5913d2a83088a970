/**
 * The one source of the report format's shapes: schemas (see `schema-kit.ts`) that give both the
 * TypeScript types (`summary()`, turn timelines, alerts, data-channel messages) and the
 * validation a receiver runs on untrusted input. The stats and alert metrics come from the
 * metric catalog, so a new metric is accepted by every receiver built with it.
 *
 * Every number is bounded to a sane range for its meaning (not just finite), every string is
 * capped, every list and record is cut to a bounded length, and records keyed by received names
 * have no prototype. Isomorphic.
 */
import {
  ALERT_METRICS,
  STAT_NAMES,
  type StatName,
  type UsageField,
  statDef,
} from '../catalog/index.js';
import {
  type Infer,
  Invalid,
  array,
  boolean,
  lenientArray,
  literal,
  nullable,
  number,
  object,
  optional,
  picklist,
  record as recordOf,
  string,
  type Schema,
} from './schema-kit.js';

/** Longest string a receiver keeps (longer ones are cut). */
export const MAX_STRING = 256;
/** Longest list, and most record entries, a receiver keeps. */
export const MAX_LIST = 64;

/** A day: no duration the plugin measures is longer. */
const MAX_DURATION_MS = 86_400_000;
/** Epoch ms up to the year 2286. */
const MAX_EPOCH_MS = 1e13;
const MAX_TOKENS_PER_SEC = 1e6;

const count = number(0, Number.MAX_SAFE_INTEGER, true);
const epochMs = number(0, MAX_EPOCH_MS);
const durationMs = number(0, MAX_DURATION_MS);
const offsetMs = number(-MAX_DURATION_MS, MAX_DURATION_MS);
const percent = number(0, 100);
/** Any metric's value: the widest of the catalog's units. */
const metricValue = number(0, Math.max(MAX_DURATION_MS, MAX_TOKENS_PER_SEC));
/** A stat's value in tokens/s (one in ms is a `durationMs`). */
const rateValue = number(0, MAX_TOKENS_PER_SEC);
/** Any usage amount (tokens, characters, audio ms) and any cost. */
const amount = number(0, Number.MAX_SAFE_INTEGER);
const text = string(MAX_STRING);
const list = <T>(item: Schema<T>) => array(item, MAX_LIST);
const record = <T>(value: Schema<T>) => recordOf(value, MAX_LIST, MAX_STRING);

/**
 * The kinds of number a message carries, and what the sender does with one a receiver would
 * refuse (`encode.ts`, through `repair.ts`; docs/DATA-CHANNEL.md, "Values out of range"). Each
 * adjustment is counted as `wire_values_adjusted{kind, action}`.
 *
 * - `clamp`: a finite value out of range is moved to the nearest bound (a fraction of a count
 *   rounded down): a count past 2^53 - 1 is still "very many".
 * - `drop`: a finite value out of range is left out where the field may be `null` or absent (a
 *   stat's p90 reads `null`, a cost is absent, a usage amount or a list item goes), since a
 *   measurement clamped to its bound would read as a real one (a TTFT of a day); where the field
 *   is required (a stage's duration, an alert's value) it is clamped to the bound.
 *
 * A non-finite value (NaN, ±Infinity) or one of the wrong type is always dropped, with what holds
 * it up to the nearest list item, record entry, `null`-able or optional field; when nothing holds
 * it, the message is not sent (`dropped_messages{reason="invalid"}`).
 */
export const WIRE_VALUE_KINDS = {
  count: { schemas: [count], outOfRange: 'clamp' },
  amount: { schemas: [amount], outOfRange: 'drop' },
  duration: { schemas: [durationMs, offsetMs], outOfRange: 'drop' },
  rate: { schemas: [rateValue], outOfRange: 'drop' },
  percent: { schemas: [percent], outOfRange: 'drop' },
  timestamp: { schemas: [epochMs], outOfRange: 'drop' },
  metric: { schemas: [metricValue], outOfRange: 'drop' },
} as const;
/** A kind of value in a message (`other`: any that is not a number of the kinds above). */
export type WireValueKind = keyof typeof WIRE_VALUE_KINDS | 'other';
/** What the sender did with a value a receiver would refuse. */
export type WireAdjustment = 'clamped' | 'dropped';

/** Distribution summary of one series, in its metric's unit; `null`s while it has no sample. */
const statsOf = (v: Schema<number>) => {
  const value = nullable(v);
  return object({
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
export const StatsSchema = statsOf(durationMs);
export type Stats = Infer<typeof StatsSchema>;

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

/** Every stat of the catalog; one from an agent built before a stat existed reads as empty. */
const statsEntries = Object.fromEntries(
  STAT_NAMES.map((name) => [
    name,
    optional(statsOf(statDef(name).unit === 'ms' ? durationMs : rateValue), emptyStats),
  ]),
) as Record<StatName, Schema<Stats>>;

const component = picklist(['stt', 'llm', 'tts', 'function']);

export const ComponentRequestsSchema = object({
  /** Requests that ended, successfully or not (cancelled ones excluded). */
  requests: count,
  errors: count,
  /** Requests cancelled by an interruption; in neither `requests` nor `errors`. */
  cancelled: count,
  /** Failed attempts that the framework retried. */
  retries: count,
  /** errors / requests × 100; `null` before the first request. */
  errorRate: nullable(percent),
});
export type ComponentRequests = Infer<typeof ComponentRequestsSchema>;

const noRequests = (): ComponentRequests => ({
  requests: 0,
  errors: 0,
  cancelled: 0,
  retries: 0,
  errorRate: null,
});

const activeAlertEntries = {
  metric: picklist(ALERT_METRICS),
  /** For `error_rate`, the component; otherwise absent. */
  component: optional(component),
  /** The level now in force (`cleared` events carry the level that was cleared). */
  level: picklist(['warning', 'critical']),
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
};
export const ActiveAlertSchema = object(activeAlertEntries);
export type ActiveAlert = Infer<typeof ActiveAlertSchema>;

export const AlertEventSchema = object({
  ...activeAlertEntries,
  /** `raised` when a level is entered or escalated; `cleared` when back to normal. */
  state: picklist(['raised', 'cleared']),
});
export type AlertEvent = Infer<typeof AlertEventSchema>;

export const TurnStageSchema = object({
  stage: picklist([
    'stt',
    'end_of_turn',
    'llm',
    'function',
    'tts',
    // where the seconds go from the caller's ear back (docs/HEARD-LATENCY.md)
    'speech_end_lag',
    'agent_output',
    'uplink',
    'downlink',
    'network',
  ]),
  /** Tool name, for `function` stages. */
  name: optional(text),
  /** Epoch ms at which the stage started. */
  startAt: epochMs,
  /** From the turn's start to the stage's start; negative for a stage that began before the
   * turn's anchor (e.g. preemptive generation). */
  offsetMs,
  durationMs,
  /** Time to first output within the stage: TTFT for `llm`, TTFB for `tts`. */
  firstOutputMs: optional(durationMs),
  outcome: optional(picklist(['ok', 'error', 'cancelled'])),
});
export type TurnStage = Infer<typeof TurnStageSchema>;

/** The usage of one provider and model: each quantity of the catalog it reported. */
export const UsageEntrySchema = object({
  component: picklist(['stt', 'llm', 'tts', 'realtime']),
  provider: text,
  model: text,
  /** By the catalog's usage quantity (`USAGE_CATALOG`): tokens, characters, audio ms. A receiver
   * keeps quantities it does not know yet (bounded), so it needs no copy of the catalog. */
  amounts: recordOf(amount, 16, 32) as Schema<Partial<Record<UsageField, number>>>,
  /** What it cost, in the price table's currency; absent when the table does not price it. */
  cost: optional(amount),
});
export type UsageEntry = Infer<typeof UsageEntrySchema>;

/** Usage by provider and model, from each provider request counted once; with a price table,
 * its cost. */
export const UsageSchema = object({
  entries: list(UsageEntrySchema),
  /** The price table's currency, when one was given. */
  currency: optional(text),
  /** The sum of the entries' costs, when a price table was given. */
  cost: optional(amount),
});
export type Usage = Infer<typeof UsageSchema>;

export const TurnTimelineSchema = object({
  /** The framework's speech id of the agent's answer. */
  id: text,
  /** How the user's turn arrived: `voice`, `text`, or `none` (the agent spoke unprompted). */
  input: picklist(['voice', 'text', 'none']),
  /** Epoch ms the turn's clock starts at: user stopped speaking (voice), user turn committed
   * (text), or the speech's creation (`none`). */
  startedAt: epochMs,
  endedAt: epochMs,
  userStoppedSpeakingAt: optional(epochMs),
  agentStartedSpeakingAt: optional(epochMs),
  /** Turn start to agent audio (or answer) start; absent when the agent never started. */
  e2eLatencyMs: optional(durationMs),
  /** What the caller waited (its helper's report, docs/HEARD-LATENCY.md), once one arrived. */
  heardLatencyMs: optional(durationMs),
  interrupted: boolean,
  /** The speech ended without the agent ever starting to answer (e.g. a failed LLM). */
  cancelled: boolean,
  /** OpenTelemetry trace id of the turn, when the agent's tracing is on. */
  traceId: optional(text),
  stages: list(TurnStageSchema),
  /** What the turn's requests used (and cost); usage reported without a turn (e.g. the STT's)
   * counts in the next turn that ends. Absent when nothing was reported. */
  usage: optional(UsageSchema),
});
export type TurnTimeline = Infer<typeof TurnTimelineSchema>;

export const FunctionSummarySchema = object({
  /** Executions that ended (ok or error). */
  count,
  errors: count,
  /** Mean duration in ms of the executions that reached the stats. */
  avg: nullable(durationMs),
});

export const PluginHealthSchema = object({
  /** Events with a missing or odd field that was ignored, by field (e.g. `llm_metrics.ttftMs`). */
  oddFields: optional(record(count), () => ({})),
  /** Failures the plugin contained: its own, and those of what it calls (sinks, listeners,
   * the logger, the meter, the room, the framework). */
  internalErrors: optional(count, () => 0),
  /** The same failures by `source:reason`, e.g. `sink:rejected`, `room:threw`. */
  containedErrors: optional(record(count), () => ({})),
  /** Features that turned themselves off (e.g. on a framework shape they do not know), with
   * why; a feature not listed is on or was not asked for. */
  disabledFeatures: optional(record(string(200)), () => ({})),
  /** Samples dropped (e.g. negative or non-finite values), by reason. */
  droppedSamples: optional(record(count), () => ({})),
  /** Data-channel messages not delivered, by reason: `not_connected`, `publish_failed`,
   * `too_large`, `invalid` (not valid even after its values were adjusted), `rate_limited`. */
  droppedMessages: optional(record(count), () => ({})),
});
export type PluginHealth = Infer<typeof PluginHealthSchema>;

export const ConcurrencySchema = object({
  /** Sessions with attached metrics that have not closed, in this process. */
  activeSessions: count,
  peakSessions: count,
  /** Tool executions running now in this session. */
  activeTools: count,
  peakTools: count,
});
export type ConcurrencySnapshot = Infer<typeof ConcurrencySchema>;

/** Turn-taking counts. */
export const TurnTakingSchema = object({
  /** Agent speech the caller talked over and that ended interrupted. */
  interruptions: count,
  /** Interruptions the framework found false (`agent_false_interruption`). */
  falseInterruptions: count,
  /** Of those, the ones after which the agent resumed its speech. */
  resumedFalseInterruptions: count,
  /** Backchannels the adaptive interruption model detected (`interruption_metrics`). */
  backchannels: count,
});
export type TurnTaking = Infer<typeof TurnTakingSchema>;

const requestsOrNone = optional(ComponentRequestsSchema, noRequests);

/** `summary()`: a JSON-serializable snapshot of everything. Numbers are in their metric's unit
 * (ms for durations). */
export const SummarySchema = object({
  v: literal(2),
  at: epochMs,
  labels: optional(record(text), () => ({})),
  turns: count,
  interruptedTurns: optional(count, () => 0),
  cancelledTurns: optional(count, () => 0),
  /** Every stat of the catalog, by name. */
  stats: object(statsEntries),
  /** Requests and error rate of each component. */
  components: object({
    stt: requestsOrNone,
    llm: requestsOrNone,
    tts: requestsOrNone,
    function: requestsOrNone,
  }),
  /** Tool executions by tool name (at most `maxFunctionNames`, then `other`). */
  functions: optional(record(FunctionSummarySchema), () => ({})),
  concurrency: ConcurrencySchema,
  /** Absent (all 0) from an agent built before they were counted. */
  turnTaking: optional(TurnTakingSchema, () =>
    TurnTakingSchema({
      interruptions: 0,
      falseInterruptions: 0,
      resumedFalseInterruptions: 0,
      backchannels: 0,
    }),
  ),
  /** The session's usage by provider and model (and its cost, with a price table). */
  usage: optional(UsageSchema, () => ({ entries: [] })),
  /** The component with the highest p90 latency, `null` without data. */
  bottleneck: nullable(picklist(['stt', 'llm', 'tts'])),
  /** Alerts a receiver can't read (e.g. a metric it does not know yet) are left out. */
  alerts: optional(lenientArray(ActiveAlertSchema, MAX_LIST), () => []),
  health: optional(PluginHealthSchema, () => PluginHealthSchema({})),
});
export type MetricsSummary = Infer<typeof SummarySchema>;

const messageBase = {
  v: literal(2),
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
  shed: optional(list(text)),
};

/** The session's `summary()`: sent at most every `intervalMs` while it changes, to a joining
 * participant, in answer to the summary RPC, and once more (`final: true`) when the session
 * closes. */
export const SummaryMessageSchema = object({
  ...messageBase,
  type: literal('summary'),
  /** The session closed and this is its last summary (only an exact `true` counts). */
  final: (x: unknown) => x === true,
  summary: SummarySchema,
});
export type SummaryMessage = Infer<typeof SummaryMessageSchema>;

/** A turn completed: its timeline (STT → end of turn → LLM → tools → TTS). */
export const TurnMessageSchema = object({
  ...messageBase,
  type: literal('turn'),
  turn: TurnTimelineSchema,
});
export type TurnMessage = Infer<typeof TurnMessageSchema>;

/** An alert level was raised or cleared. */
export const AlertMessageSchema = object({
  ...messageBase,
  type: literal('alert'),
  alert: AlertEventSchema,
});
export type AlertMessage = Infer<typeof AlertMessageSchema>;

export type MetricsMessage = SummaryMessage | TurnMessage | AlertMessage;

/** Each message type's schema. */
export const MESSAGE_SCHEMAS = {
  summary: SummaryMessageSchema,
  turn: TurnMessageSchema,
  alert: AlertMessageSchema,
} as const;

/** A metrics message of any type: the schema of its `type`. */
export const MetricsMessageSchema: Schema<MetricsMessage> = (x) => {
  const type = (x as { type?: unknown } | null)?.type;
  const schema =
    typeof type === 'string' && Object.hasOwn(MESSAGE_SCHEMAS, type)
      ? MESSAGE_SCHEMAS[type as keyof typeof MESSAGE_SCHEMAS]
      : undefined;
  if (!schema) throw new Invalid();
  return schema(x);
};

/**
 * The one message a viewer sends: it asks the agent to send it the current summary. It serves
 * viewers the RPC can't reach: LiveKit does not deliver RPCs from hidden participants (such as
 * `watch`), but it does deliver their data.
 */
export const SummaryRequestSchema = object({
  v: literal(2),
  type: literal('summary_request'),
  /** The asker's identity, used only when the transport does not name the sender (a hidden
   * participant's packet); it is never the address of the answer. */
  identity: string(MAX_STRING, 1),
});
export type SummaryRequestMessage = Infer<typeof SummaryRequestSchema>;
