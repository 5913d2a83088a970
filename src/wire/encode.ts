/**
 * Serializes outgoing messages and keeps each under the reliable-packet limit by shedding detail
 * in a fixed order (least useful to an in-room viewer first). A message never fails for its size:
 * what was dropped is listed in its `shed` field.
 */
import type { MetricsSummary, Stats, TurnTimeline } from '../types.js';
import {
  MAX_MESSAGE_BYTES,
  type MetricsMessage,
  type SummaryMessage,
  type TurnMessage,
} from './messages.js';

/** Longest tool name, label value or room name a message carries; longer ones are cut. */
export const MAX_STRING_LENGTH = 128;

const encoder = new TextEncoder();

interface ShedStep<M> {
  what: string;
  apply(message: M): M;
}

/** UTF-8 JSON of the message, at most `maxBytes` long; `undefined` only if even the leanest form
 * does not fit (impossible at the default limit). */
export function encodeMessage(
  message: MetricsMessage,
  maxBytes: number = MAX_MESSAGE_BYTES,
): Uint8Array | undefined {
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

function fit<M extends MetricsMessage>(
  message: M,
  steps: readonly ShedStep<M>[],
  maxBytes: number,
): Uint8Array | undefined {
  let current = message;
  let bytes = encoder.encode(JSON.stringify(current));
  for (const step of steps) {
    if (bytes.length <= maxBytes) return bytes;
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
  return bytes.length <= maxBytes ? bytes : undefined;
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
    stages: turn.stages.filter((s) => s.stage !== 'function' || ++tools <= keep),
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
