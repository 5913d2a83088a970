/**
 * Reads a received data packet as an untrusted message. Anything that is not a well-formed
 * version-1 message (wrong version or type, garbage bytes, oversize payloads, wrong field types)
 * yields `null`; a valid one comes back as a fresh object holding only known fields, with every
 * number finite and every string capped, so a renderer can use it without further checks.
 */
import type {
  ActiveAlert,
  AlertEvent,
  ComponentRequests,
  MetricsSummary,
  Stats,
  TurnStage,
  TurnTimeline,
} from '../types.js';
import type {
  AlertMessage,
  MetricsMessage,
  SummaryMessage,
  SummaryRequestMessage,
  TurnMessage,
} from './messages.js';
import { MAX_MESSAGE_BYTES, WIRE_VERSION } from './messages.js';

type Json = Record<string, unknown>;

const MAX_STRING = 256;
const MAX_LIST = 64;
const decoder = new TextDecoder('utf-8', { fatal: true });

const STAT_FIELDS = ['avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99'] as const;
const COMPONENT_NAMES = ['stt', 'llm', 'tts', 'function'] as const;
const ALERT_METRICS = [
  'stt_latency',
  'ttft',
  'ttlt',
  'tts_latency',
  'function_execution',
  'e2e_latency',
  'tokens_per_sec',
  'error_rate',
] as const;
const STAGES = ['stt', 'end_of_turn', 'llm', 'function', 'tts'] as const;

/** Thrown inside the validators; never escapes {@link decodeMessage}. */
class Invalid extends Error {}

/** The message in a received payload, or `null` when it is not a valid version-1 message. */
export function decodeMessage(payload: Uint8Array | ArrayBuffer | string): MetricsMessage | null {
  try {
    let text: string;
    if (typeof payload === 'string') {
      if (payload.length > MAX_MESSAGE_BYTES) return null;
      text = payload;
    } else {
      const bytes = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
      if (bytes.byteLength > MAX_MESSAGE_BYTES) return null;
      text = decoder.decode(bytes);
    }
    return readMessage(JSON.parse(text));
  } catch {
    return null;
  }
}

/** A viewer's {@link SummaryRequestMessage} in a received payload, or `null`. Never throws. */
export function decodeSummaryRequest(payload: Uint8Array): SummaryRequestMessage | null {
  if (payload.byteLength > 512) return null;
  try {
    const raw = object(JSON.parse(decoder.decode(payload)));
    if (raw.v !== WIRE_VERSION || raw.type !== 'summary_request') return null;
    const identity = string(raw.identity);
    return identity ? { v: WIRE_VERSION, type: 'summary_request', identity } : null;
  } catch {
    return null;
  }
}

/** Validates an already-parsed value (e.g. JSON parsed elsewhere) as a message. */
export function readMessage(value: unknown): MetricsMessage | null {
  try {
    const raw = object(value);
    if (raw.v !== WIRE_VERSION) return null;
    const base = {
      v: WIRE_VERSION,
      session: string(raw.session),
      seq: count(raw.seq),
      at: finite(raw.at),
      room: string(raw.room),
      ...(raw.shed === undefined ? {} : { shed: list(raw.shed, string) }),
    } as const;
    switch (raw.type) {
      case 'summary':
        return {
          ...base,
          type: 'summary',
          final: raw.final === true,
          summary: summary(raw.summary),
        } satisfies SummaryMessage;
      case 'turn':
        return { ...base, type: 'turn', turn: turn(raw.turn) } satisfies TurnMessage;
      case 'alert':
        return { ...base, type: 'alert', alert: alert(raw.alert) } satisfies AlertMessage;
      default:
        return null;
    }
  } catch {
    return null;
  }
}

function object(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Invalid();
  return value as Json;
}

function finite(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Invalid();
  return value;
}

function count(value: unknown): number {
  const n = finite(value);
  if (n < 0 || !Number.isInteger(n)) throw new Invalid();
  return n;
}

function nullable<T>(value: unknown, read: (v: unknown) => T): T | null {
  return value === null || value === undefined ? null : read(value);
}

function optional<T>(value: unknown, read: (v: unknown) => T): T | undefined {
  return value === undefined ? undefined : read(value);
}

function string(value: unknown): string {
  if (typeof value !== 'string') throw new Invalid();
  return value.length > MAX_STRING ? value.slice(0, MAX_STRING) : value;
}

function oneOf<T extends string>(allowed: readonly T[]): (value: unknown) => T {
  return (value) => {
    if (!allowed.includes(value as T)) throw new Invalid();
    return value as T;
  };
}

function list<T>(value: unknown, read: (v: unknown) => T): T[] {
  if (!Array.isArray(value)) throw new Invalid();
  return value.slice(0, MAX_LIST).map(read);
}

function record<T>(value: unknown, read: (v: unknown) => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [key, entry] of Object.entries(object(value)).slice(0, MAX_LIST)) {
    // Defined, not assigned: a received `__proto__` key must stay an entry, not become a prototype.
    Object.defineProperty(out, string(key), {
      value: read(entry),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function stats(value: unknown): Stats {
  const raw = object(value);
  const out = { count: count(raw.count) } as Stats;
  for (const field of STAT_FIELDS) out[field] = nullable(raw[field], finite);
  return out;
}

function requests(value: unknown): ComponentRequests {
  const raw = object(value);
  return {
    requests: count(raw.requests),
    errors: count(raw.errors),
    cancelled: count(raw.cancelled),
    retries: count(raw.retries),
    error_rate: nullable(raw.error_rate, finite),
  };
}

function activeAlert(value: unknown): ActiveAlert {
  const raw = object(value);
  const component = optional(raw.component, oneOf(COMPONENT_NAMES));
  return {
    metric: oneOf(ALERT_METRICS)(raw.metric),
    ...(component === undefined ? {} : { component }),
    level: oneOf(['warning', 'critical'] as const)(raw.level),
    value: finite(raw.value),
    threshold: finite(raw.threshold),
    windowCount: count(raw.windowCount),
    at: finite(raw.at),
  };
}

function alert(value: unknown): AlertEvent {
  const raw = object(value);
  return { state: oneOf(['raised', 'cleared'] as const)(raw.state), ...activeAlert(raw) };
}

function summary(value: unknown): MetricsSummary {
  const raw = object(value);
  const stt = object(raw.stt);
  const llm = object(raw.llm);
  const tts = object(raw.tts);
  const fn = object(raw.function);
  const concurrency = object(raw.concurrency);
  const health = raw.health === undefined ? {} : object(raw.health);
  return {
    v: 1,
    at: finite(raw.at),
    labels: raw.labels === undefined ? {} : record(raw.labels, string),
    turns: count(raw.turns),
    interrupted_turns: count(raw.interrupted_turns ?? 0),
    cancelled_turns: count(raw.cancelled_turns ?? 0),
    stt: {
      latency: stats(stt.latency),
      error_rate: nullable(stt.error_rate, finite),
      requests: requests(stt.requests),
    },
    llm: {
      ttft: stats(llm.ttft),
      ttlt: stats(llm.ttlt),
      token_rate: stats(llm.token_rate),
      error_rate: nullable(llm.error_rate, finite),
      requests: requests(llm.requests),
    },
    tts: {
      latency: stats(tts.latency),
      error_rate: nullable(tts.error_rate, finite),
      requests: requests(tts.requests),
    },
    function: {
      execution: stats(fn.execution),
      error_rate: nullable(fn.error_rate, finite),
      requests: requests(fn.requests),
      by_name:
        fn.by_name === undefined
          ? {}
          : record(fn.by_name, (entry) => {
              const e = object(entry);
              return {
                count: count(e.count),
                errors: count(e.errors),
                avg: nullable(e.avg, finite),
              };
            }),
    },
    e2e: { latency: stats(object(raw.e2e).latency) },
    concurrency: {
      active_sessions: count(concurrency.active_sessions),
      peak_sessions: count(concurrency.peak_sessions),
      active_tools: count(concurrency.active_tools),
      peak_tools: count(concurrency.peak_tools),
    },
    bottleneck: nullable(raw.bottleneck, oneOf(['stt', 'llm', 'tts'] as const)),
    alerts: raw.alerts === undefined ? [] : list(raw.alerts, activeAlert),
    health: {
      odd_fields: health.odd_fields === undefined ? {} : record(health.odd_fields, count),
      internal_errors: count(health.internal_errors ?? 0),
      dropped_samples:
        health.dropped_samples === undefined ? {} : record(health.dropped_samples, count),
      dropped_messages:
        health.dropped_messages === undefined ? {} : record(health.dropped_messages, count),
    },
  };
}

function stage(value: unknown): TurnStage {
  const raw = object(value);
  const name = optional(raw.name, string);
  const firstOutputMs = optional(raw.firstOutputMs, finite);
  const outcome = optional(raw.outcome, oneOf(['ok', 'error', 'cancelled'] as const));
  return {
    stage: oneOf(STAGES)(raw.stage),
    ...(name === undefined ? {} : { name }),
    startAt: finite(raw.startAt),
    offsetMs: finite(raw.offsetMs),
    durationMs: finite(raw.durationMs),
    ...(firstOutputMs === undefined ? {} : { firstOutputMs }),
    ...(outcome === undefined ? {} : { outcome }),
  };
}

function turn(value: unknown): TurnTimeline {
  const raw = object(value);
  const optionalTimes = {
    userStoppedSpeakingAt: optional(raw.userStoppedSpeakingAt, finite),
    agentStartedSpeakingAt: optional(raw.agentStartedSpeakingAt, finite),
    e2eLatencyMs: optional(raw.e2eLatencyMs, finite),
    traceId: optional(raw.traceId, string),
  };
  return {
    id: string(raw.id),
    input: oneOf(['voice', 'text', 'none'] as const)(raw.input),
    startedAt: finite(raw.startedAt),
    endedAt: finite(raw.endedAt),
    ...(Object.fromEntries(
      Object.entries(optionalTimes).filter(([, v]) => v !== undefined),
    ) as Partial<TurnTimeline>),
    interrupted: raw.interrupted === true,
    cancelled: raw.cancelled === true,
    stages: list(raw.stages, stage),
  };
}
