/**
 * Serializes outgoing messages through the receiver's own schema, and keeps each under the
 * reliable-packet limit by shedding detail in a fixed order (least useful to an in-room viewer
 * first). A value a receiver would refuse is clamped or dropped first (`repair.ts`, by the policy
 * of `WIRE_VALUE_KINDS` in `schema.ts`), so what is sent is what a receiver reads: one provider
 * value out of range cannot make every later summary unreadable. A message never fails for its
 * size: what was dropped is listed in its `shed` field.
 */
import type { MetricsSummary, Stats, TurnTimeline } from '../types.js';
import {
  MAX_MESSAGE_BYTES,
  type MetricsMessage,
  type SummaryMessage,
  type TurnMessage,
} from './messages.js';
import { type Adjusted, repair } from './repair.js';
import { MAX_LIST, MESSAGE_SCHEMAS, type TurnStage } from './schema.js';
import { parse, type Schema } from './schema-kit.js';

/** Longest tool name, label value or room name a message carries; longer ones are cut. */
export const MAX_STRING_LENGTH = 128;

const encoder = new TextEncoder();

interface ShedStep<M> {
  what: string;
  apply(message: M): M;
}

/** Why a message was not encoded: not valid even with its values adjusted (e.g. a required
 * value that is NaN), or over the limit even in its leanest form (impossible at the default). */
export type EncodeFailure = 'invalid' | 'too_large';

export interface EncodeOptions {
  /** The largest message; default {@link MAX_MESSAGE_BYTES}. */
  maxBytes?: number;
  /** Told of each value clamped or dropped because a receiver would refuse it. */
  adjusted?: Adjusted;
}

/** {@link encodeChecked} without the reports: the bytes, or `undefined` when the message was
 * not encoded. */
export function encodeMessage(
  message: MetricsMessage,
  maxBytes: number = MAX_MESSAGE_BYTES,
): Uint8Array | undefined {
  const bytes = encodeChecked(message, { maxBytes });
  return typeof bytes === 'string' ? undefined : bytes;
}

/**
 * UTF-8 JSON of the message as a receiver's schema reads it, at most `maxBytes` long: values a
 * receiver would refuse are clamped or dropped (and reported to `adjusted`), strings and lists
 * cut to the receiver's bounds, then detail shed to fit; or why it was not encoded. Never throws.
 */
export function encodeChecked(
  message: MetricsMessage,
  { maxBytes = MAX_MESSAGE_BYTES, adjusted = () => {} }: EncodeOptions = {},
): Uint8Array | EncodeFailure {
  try {
    const type: unknown = (message as { type?: unknown } | null)?.type;
    if (typeof type !== 'string' || !Object.hasOwn(MESSAGE_SCHEMAS, type)) return 'invalid';
    const schema = MESSAGE_SCHEMAS[type as MetricsMessage['type']] as Schema<MetricsMessage>;
    const input = message.type === 'turn' ? keepStagesWithinCap(message) : message;
    const valid = repair(schema, input, adjusted);
    if (!valid) return 'invalid';
    const lean = shed(valid, maxBytes);
    if (!lean) return 'too_large';
    // The receiver's check once more, on what goes out: shedding only leaves detail out.
    const checked = parse(schema, lean);
    if (!checked) return 'invalid';
    const bytes = encoder.encode(JSON.stringify(checked));
    return bytes.length <= maxBytes ? bytes : 'too_large';
  } catch {
    return 'invalid'; // e.g. a getter of the message that threw
  }
}

/** A receiver keeps the first {@link MAX_LIST} stages of a turn: past that, the tool stages
 * beyond what fits go, so every pipeline stage (the TTS after many tools) stays. */
function keepStagesWithinCap(message: TurnMessage): TurnMessage {
  const stages: unknown = message.turn?.stages;
  if (!Array.isArray(stages) || stages.length <= MAX_LIST) return message;
  const pipeline = stages.filter((s) => (s as TurnStage | null)?.stage !== 'function').length;
  return {
    ...message,
    turn: keepToolStages(message.turn, MAX_LIST - pipeline),
    shed: [...(Array.isArray(message.shed) ? message.shed : []), 'turn.stages'],
  };
}

function shed(message: MetricsMessage, maxBytes: number): MetricsMessage | undefined {
  switch (message.type) {
    case 'summary':
      return fit(message, SUMMARY_STEPS, maxBytes);
    case 'turn':
      return fit({ ...message, turn: capTurnStrings(message.turn) }, TURN_STEPS, maxBytes);
    case 'alert':
      return fit(message, [{ what: 'room', apply: capRoom }], maxBytes);
  }
}

/** Cuts a string to {@link MAX_STRING_LENGTH} characters. */
function capString(value: string): string {
  return value.length > MAX_STRING_LENGTH ? value.slice(0, MAX_STRING_LENGTH - 1) + '…' : value;
}

/** The message with the first detail left out that makes it fit, or `undefined`. */
function fit<M extends MetricsMessage>(
  message: M,
  steps: readonly ShedStep<M>[],
  maxBytes: number,
): M | undefined {
  let current = message;
  let bytes = encoder.encode(JSON.stringify(current));
  for (const step of steps) {
    if (bytes.length <= maxBytes) return current;
    const next = step.apply(current);
    const nextBytes = encoder.encode(JSON.stringify(next));
    if (nextBytes.length >= bytes.length) continue; // nothing of this kind to leave out
    // `shed` names each kind of detail once, even when two steps cut the same kind.
    const shed = current.shed?.includes(step.what)
      ? current.shed
      : [...(current.shed ?? []), step.what];
    current = { ...next, shed };
    bytes = encoder.encode(JSON.stringify(current));
  }
  return bytes.length <= maxBytes ? current : undefined;
}

function withSummary(
  message: SummaryMessage,
  change: (summary: MetricsSummary) => Partial<MetricsSummary>,
): SummaryMessage {
  return { ...message, summary: { ...message.summary, ...change(message.summary) } };
}

function topFunctionNames(summary: MetricsSummary, keep: number): Partial<MetricsSummary> {
  const top = Object.entries(summary.functions)
    .sort(([, a], [, b]) => b.count - a.count)
    .slice(0, keep);
  // keyed by tool names an LLM may have invented: no prototype to collide with
  const functions: MetricsSummary['functions'] = Object.create(null);
  for (const [name, entry] of top) functions[capString(name)] = entry;
  return { functions };
}

/** p50 and p90 are what the overlay shows; the rest of a distribution goes first. */
function leanStats(stats: Stats): Stats {
  return { ...stats, min: null, max: null, p95: null, p99: null };
}

/** Each list starts by cutting the room name: an overlong name must not cost any metric. */
const capRoom = <M extends MetricsMessage>(m: M): M => ({ ...m, room: capString(m.room) });

const SUMMARY_STEPS: readonly ShedStep<SummaryMessage>[] = [
  { what: 'room', apply: capRoom },
  {
    what: 'health',
    apply: (m) =>
      withSummary(m, (s) => ({
        health: {
          oddFields: {},
          droppedSamples: {},
          droppedMessages: {},
          internalErrors: s.health.internalErrors,
          containedErrors: {},
          disabledFeatures: s.health.disabledFeatures,
        },
      })),
  },
  // usage entries carry provider and model names; the session's cost stays
  {
    what: 'usage',
    apply: (m) =>
      withSummary(m, (s) => ({ usage: { ...s.usage, entries: s.usage.entries.slice(0, 8) } })),
  },
  { what: 'usage', apply: (m) => withSummary(m, (s) => ({ usage: { ...s.usage, entries: [] } })) },
  { what: 'functions', apply: (m) => withSummary(m, (s) => topFunctionNames(s, 10)) },
  { what: 'functions', apply: (m) => withSummary(m, (s) => topFunctionNames(s, 0)) },
  {
    what: 'labels',
    apply: (m) =>
      withSummary(m, (s) => ({
        labels: Object.fromEntries(
          Object.entries(s.labels).map(([k, v]) => [capString(k), capString(v)]),
        ),
      })),
  },
  { what: 'labels', apply: (m) => withSummary(m, () => ({ labels: {} })) },
  { what: 'alerts', apply: (m) => withSummary(m, (s) => ({ alerts: s.alerts.slice(0, 4) })) },
  {
    what: 'stats',
    apply: (m) =>
      withSummary(m, (s) => ({
        stats: Object.fromEntries(
          Object.entries(s.stats).map(([name, st]) => [name, leanStats(st)]),
        ) as MetricsSummary['stats'],
      })),
  },
];

function capTurnStrings(turn: TurnTimeline): TurnTimeline {
  const long =
    turn.id.length > MAX_STRING_LENGTH ||
    turn.stages.some((s) => (s.name?.length ?? 0) > MAX_STRING_LENGTH);
  if (!long) return turn;
  return {
    ...turn,
    id: capString(turn.id),
    stages: turn.stages.map((s) => (s.name === undefined ? s : { ...s, name: capString(s.name) })),
  };
}

/** Keeps every pipeline stage and the first `keep` tool stages. */
function keepToolStages(turn: TurnTimeline, keep: number): TurnTimeline {
  let tools = 0;
  return {
    ...turn,
    stages: turn.stages.filter((s) => s?.stage !== 'function' || ++tools <= keep),
  };
}

const TURN_STEPS: readonly ShedStep<TurnMessage>[] = [
  { what: 'room', apply: capRoom },
  { what: 'turn.stages', apply: (m) => ({ ...m, turn: keepToolStages(m.turn, 16) }) },
  { what: 'turn.stages', apply: (m) => ({ ...m, turn: keepToolStages(m.turn, 0) }) },
  {
    what: 'turn.usage',
    apply: (m) =>
      m.turn.usage ? { ...m, turn: { ...m.turn, usage: { ...m.turn.usage, entries: [] } } } : m,
  },
];
