/**
 * What a caller-side helper sends to the agent, and how the agent reads it: the per-turn heard
 * latency report and the clock exchange that estimates the offset between the two clocks.
 * Isomorphic (no Node, no DOM): the Node caller, the browser overlay and the agent import it, and
 * `tsconfig.browser.json` compiles it without Node's types to keep it so.
 *
 * Every message is UTF-8 JSON `{ v: 1, type, ... }` on the metrics topic (`agent-metrics` unless
 * configured), sent reliably to the agent alone, at most {@link MAX_CALLER_MESSAGE_BYTES} long.
 * The agent treats each one as untrusted: {@link parseCallerMessage} is the only way in.
 *
 * Times named `...At` are milliseconds on the clock of whoever wrote them:
 * `performance.timeOrigin + performance.now()` (epoch-based, but monotonic within a process or
 * page). Two such times are only ever subtracted when they come from the same clock; crossing
 * clocks goes through a {@link ClockEstimate}.
 */

/** Version of the caller messages; a receiver ignores any other. */
export const CALLER_WIRE_VERSION = 1;

/** A caller message is small; anything larger is rejected before it is parsed. */
export const MAX_CALLER_MESSAGE_BYTES = 512;

/** The largest heard latency a report may carry: a caller who waited a minute hung up. */
export const MAX_HEARD_LATENCY_MS = 60_000;

/** Output latency a browser may add (AudioContext.outputLatency + baseLatency); more is bogus. */
export const MAX_OUTPUT_LATENCY_MS = 2_000;

/** Clock times: epoch milliseconds, from 1970 up to about the year 2286. */
const MAX_TIME_MS = 1e13;
/** A clock may be wrong by days (a device with an unset clock); not by more than 30 years. */
const MAX_OFFSET_MS = 1e12;
const MAX_SEQ = 2 ** 31 - 1;
const METER_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** heardLatencyMs must equal agentAudioAt − callerSpeechEndAt + outputLatencyMs to within this. */
const CONSISTENCY_MS = 1;

/**
 * One turn as the caller heard it: its speech ended (last voiced sample of its microphone) at
 * `callerSpeechEndAt`, and the agent's answer became audible (first audible sample of the agent's
 * track as received, or as played in a browser) at `agentAudioAt`, both on the caller's clock.
 */
export interface HeardLatencyReport {
  v: 1;
  type: 'heard_latency';
  /** Per-helper sequence number, from 1 (an integer); a receiver keeps at most one per turn. */
  seq: number;
  /**
   * The helper's random id ({@link newMeterId}), new each time a helper starts: a receiver that
   * sees a new one from the same participant takes it as a restart (its `seq` from 1 again), not
   * as replays. 1–32 characters of `[A-Za-z0-9_-]`; optional (helpers before it send none).
   */
  meter?: string;
  /** `agentAudioAt − callerSpeechEndAt + (outputLatencyMs ?? 0)`, in [0, 60000]. */
  heardLatencyMs: number;
  /** The caller's last voiced sample (caller clock, ms). */
  callerSpeechEndAt: number;
  /** The agent's first audible sample as the caller received it (caller clock, ms). */
  agentAudioAt: number;
  /** Output-device latency the browser reported and the latency includes (browser only). */
  outputLatencyMs?: number;
  /** Estimated agent clock − caller clock (ms), when a clock exchange has run. */
  clockOffsetMs?: number;
  /** Round trip of the exchange the offset came from: the offset is good to ± half of it. */
  clockRttMs?: number;
}

/** The caller asks for the agent's clock; sent a few times at the start and then now and then. */
export interface ClockPingMessage {
  v: 1;
  type: 'clock_ping';
  /** Integer chosen by the caller, echoed in the answer. */
  id: number;
  /** Caller clock when sent (t0). */
  sentAt: number;
}

/** The agent's answer to a {@link ClockPingMessage}, sent to the asker alone. */
export interface ClockPongMessage {
  v: 1;
  type: 'clock_pong';
  id: number;
  /** The ping's `sentAt`, echoed (t0, caller clock). */
  pingSentAt: number;
  /** Agent clock when the ping arrived (t1). */
  receivedAt: number;
  /** Agent clock when the answer left (t2). */
  sentAt: number;
}

export type CallerMessage = HeardLatencyReport | ClockPingMessage | ClockPongMessage;

/** One finished exchange: NTP's offset and round-trip delay. */
export interface ClockSample {
  /** Agent clock − caller clock, ms. Exact when the two legs take equal time. */
  offsetMs: number;
  /** The exchange's round trip minus the agent's time holding the ping, ms. */
  rttMs: number;
  /** Caller clock when the answer arrived (t3). */
  at: number;
}

/** The offset to use: the sample of least round trip among recent ones. */
export interface ClockEstimate {
  offsetMs: number;
  rttMs: number;
  /** The offset is right to within ± this (half the round trip), whatever the path asymmetry. */
  errorMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** What the schema did to a sender's messages on their way out; the sender keeps the counts. */
export interface CallerEncodeCounts {
  /** Messages not sent: a required field missing or out of range (e.g. a latency over 60 s). */
  dropped: number;
  /** Fields fixed to fit: an optional field out of range dropped (the clock offset with its
   * round trip), an output latency clamped, a latency recomputed from its two times. */
  adjusted: number;
}

/**
 * `message` as a receiver would accept it: the schema of {@link parseCallerMessage}, applied on
 * the way out. What cannot be sent is `null` (counted in `counts.dropped`); an optional field that
 * does not fit is dropped or clamped (counted in `counts.adjusted`). Never throws.
 */
export function toCallerMessage(
  message: CallerMessage,
  counts?: CallerEncodeCounts,
): CallerMessage | null {
  const fix = { adjusted: 0 };
  let out: CallerMessage | null = null;
  try {
    // through JSON, as the receiver will read it (-0 is 0, NaN is null, undefined fields gone)
    out = readJson(JSON.stringify(message), fix);
  } catch {
    // not JSON (a cycle, a BigInt, a getter that throws): nothing is sent
  }
  if (counts) {
    if (out) counts.adjusted += fix.adjusted;
    else counts.dropped++;
  }
  return out;
}

/**
 * The bytes to publish: `message` through {@link toCallerMessage}, so a receiver's
 * {@link parseCallerMessage} accepts whatever this returns. `undefined` when nothing can be sent
 * (counted in `counts.dropped`). Never throws.
 */
export function encodeCallerMessage(
  message: CallerMessage,
  counts?: CallerEncodeCounts,
): Uint8Array | undefined {
  const valid = toCallerMessage(message, counts);
  const bytes = valid && encoder.encode(JSON.stringify(valid));
  // a valid message is about 300 bytes at most; checked so the promise holds whatever changes
  if (bytes && bytes.byteLength <= MAX_CALLER_MESSAGE_BYTES) return bytes;
  if (bytes && counts) counts.dropped++;
  return undefined;
}

/** A new random helper id for {@link HeardLatencyReport.meter}: 16 hex digits. (Node 20 and
 * browsers have `crypto`; without it every id is the same, as if the helper never restarted.) */
export function newMeterId(): string {
  const bytes = new Uint8Array(8);
  (globalThis as { crypto?: { getRandomValues(a: Uint8Array): unknown } }).crypto?.getRandomValues(
    bytes,
  );
  return Array.from(bytes, (x) => (x + 256).toString(16).slice(1)).join('');
}

/**
 * The message in a received payload, or `null` when it is not a valid version-1 caller message:
 * oversize, not UTF-8 JSON, an unknown `v` or `type`, a field missing, of the wrong type, not
 * finite or out of range, or a report whose latency disagrees with its two times. A valid one
 * comes back as a fresh object holding only the known fields. Never throws.
 */
export function parseCallerMessage(payload: Uint8Array | string): CallerMessage | null {
  try {
    if (typeof payload === 'string') {
      return payload.length > MAX_CALLER_MESSAGE_BYTES ? null : readJson(payload, undefined);
    }
    if (!(payload instanceof Uint8Array) || payload.byteLength > MAX_CALLER_MESSAGE_BYTES) {
      return null;
    }
    return readJson(decoder.decode(payload), undefined);
  } catch {
    return null;
  }
}

function readJson(text: string, fix: { adjusted: number } | undefined): CallerMessage | null {
  const m: unknown = JSON.parse(text);
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return null;
  return readMessage(m as Record<string, unknown>, fix);
}

/**
 * The schema, both ways. Without `fix` (receiving) anything out of range makes the message
 * invalid; with it (sending) an optional field that does not fit is dropped or clamped and
 * counted, and only a required one makes the message unsendable.
 */
function readMessage(
  o: Record<string, unknown>,
  fix: { adjusted: number } | undefined,
): CallerMessage | null {
  if (o.v !== CALLER_WIRE_VERSION) return null;
  if (o.type === 'heard_latency') return readReport(o, fix);
  if (o.type === 'clock_ping') return readPing(o);
  return o.type === 'clock_pong' ? readPong(o) : null;
}

const num = (v: unknown, lo: number, hi: number): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
const int = (v: unknown, lo: number, hi: number): v is number =>
  num(v, lo, hi) && Number.isInteger(v);
const time = (v: unknown): v is number => num(v, 0, MAX_TIME_MS);

function readReport(
  o: Record<string, unknown>,
  fix: { adjusted: number } | undefined,
): HeardLatencyReport | null {
  const { seq, callerSpeechEndAt, agentAudioAt } = o;
  let { heardLatencyMs, outputLatencyMs, clockOffsetMs, clockRttMs, meter } = o;
  if (!int(seq, 1, MAX_SEQ) || !time(callerSpeechEndAt) || !time(agentAudioAt)) return null;
  // what does not fit: a receiver refuses the message, a sender fixes the field (counted)
  const fixed = () => (fix ? ++fix.adjusted : 0);
  if (outputLatencyMs !== undefined && !num(outputLatencyMs, 0, MAX_OUTPUT_LATENCY_MS)) {
    if (!fixed()) return null;
    // read from JSON, a number is finite
    outputLatencyMs =
      typeof outputLatencyMs === 'number'
        ? Math.min(MAX_OUTPUT_LATENCY_MS, Math.max(0, outputLatencyMs))
        : undefined;
  }
  // the latency is its two times apart (plus the output latency); a sender's disagreeing figure
  // is recomputed from them
  const expected = agentAudioAt - callerSpeechEndAt + ((outputLatencyMs as number) || 0);
  if (!(Math.abs(expected - (heardLatencyMs as number)) <= CONSISTENCY_MS)) {
    if (!fixed()) return null;
    heardLatencyMs = expected;
  }
  if (!num(heardLatencyMs, 0, MAX_HEARD_LATENCY_MS)) return null;
  // the offset and its round trip come together or not at all
  if (
    (clockOffsetMs !== undefined || clockRttMs !== undefined) &&
    !(num(clockOffsetMs, -MAX_OFFSET_MS, MAX_OFFSET_MS) && num(clockRttMs, 0, MAX_HEARD_LATENCY_MS))
  ) {
    if (!fixed()) return null;
    clockOffsetMs = clockRttMs = undefined;
  }
  if (meter !== undefined && !(typeof meter === 'string' && METER_ID.test(meter))) {
    if (!fixed()) return null;
    meter = undefined;
  }
  const report: HeardLatencyReport = {
    v: 1,
    type: 'heard_latency',
    seq,
    heardLatencyMs,
    callerSpeechEndAt,
    agentAudioAt,
  };
  if (typeof meter === 'string') report.meter = meter;
  if (typeof outputLatencyMs === 'number') report.outputLatencyMs = outputLatencyMs;
  if (typeof clockOffsetMs === 'number' && typeof clockRttMs === 'number') {
    report.clockOffsetMs = clockOffsetMs;
    report.clockRttMs = clockRttMs;
  }
  return report;
}

function readPing(o: Record<string, unknown>): ClockPingMessage | null {
  const { id, sentAt } = o;
  if (!int(id, 0, MAX_SEQ) || !time(sentAt)) return null;
  return { v: 1, type: 'clock_ping', id, sentAt };
}

function readPong(o: Record<string, unknown>): ClockPongMessage | null {
  const { id, pingSentAt, receivedAt, sentAt } = o;
  if (!int(id, 0, MAX_SEQ) || !time(pingSentAt) || !time(receivedAt) || !time(sentAt)) {
    return null;
  }
  // an answer never leaves before its ping arrived (clockPong makes sure of it)
  if (sentAt < receivedAt) return null;
  return { v: 1, type: 'clock_pong', id, pingSentAt, receivedAt, sentAt };
}

/** The answer to `ping`, with the agent clock's reading when it arrived and when answered. */
export function clockPong(ping: ClockPingMessage, receivedAt: number, sentAt: number) {
  const pong: ClockPongMessage = {
    v: 1,
    type: 'clock_pong',
    id: ping.id,
    pingSentAt: ping.sentAt,
    receivedAt,
    sentAt: Math.max(sentAt, receivedAt),
  };
  return pong;
}

/**
 * NTP's estimate from one exchange (RFC 5905 §8): with t0 = ping sent (caller), t1 = ping
 * received (agent), t2 = answer sent (agent), t3 = answer received (caller),
 * offset = ((t1 − t0) + (t2 − t3)) / 2 and delay = (t3 − t0) − (t2 − t1).
 */
export function clockSample(pong: ClockPongMessage, receivedAt: number): ClockSample {
  const t0 = pong.pingSentAt;
  const t1 = pong.receivedAt;
  const t2 = pong.sentAt;
  const t3 = receivedAt;
  return {
    offsetMs: (t1 - t0 + (t2 - t3)) / 2,
    rttMs: Math.max(0, t3 - t0 - (t2 - t1)),
    at: t3,
  };
}

/**
 * The offset from the sample of least round trip: its legs had the least queueing, so it bounds
 * the error tightest (± rtt / 2). `undefined` without samples.
 */
export function estimateClockOffset(samples: readonly ClockSample[]): ClockEstimate | undefined {
  let best: ClockSample | undefined;
  for (const s of samples) if (!best || s.rttMs < best.rttMs) best = s;
  return best && { offsetMs: best.offsetMs, rttMs: best.rttMs, errorMs: best.rttMs / 2 };
}

/** What the agent measured of one turn, on its own clock. */
export interface AgentTurnTimes {
  /** When the caller's last voiced sample arrived at the agent (acoustic end of speech). */
  speechEndReceivedAt: number;
  /** When the agent's first audible sample left for the room (the end of the turn's
   * `agent_output` stage; its first frame out when that stage is not known). */
  firstAudioSentAt: number;
}

/** A report's heard latency cut where the clocks meet. The three parts sum to heardLatencyMs. */
export interface HeardLatencySplit {
  /** Caller's last voiced sample → its arrival at the agent (network, jitter buffers). */
  uplinkMs: number;
  /** Arrival at the agent → the agent's first audible frame out (what the agent measures). */
  agentMs: number;
  /** The agent's frame out → audible at the caller (network, jitter buffer, output latency). */
  downlinkMs: number;
  /** Each network part is right to within ± this (the clock estimate's error). */
  errorMs: number;
}

/**
 * Splits a report's heard latency into uplink, agent and downlink, mapping the caller's two times
 * onto the agent's clock with the offset. `undefined` when no offset is known: the network parts
 * cannot be told apart from one clock alone (their sum, heard − agent, still can).
 */
export function splitHeardLatency(
  report: HeardLatencyReport,
  agent: AgentTurnTimes,
  clock: Pick<ClockEstimate, 'offsetMs' | 'errorMs'> | undefined = report.clockOffsetMs ===
  undefined
    ? undefined
    : { offsetMs: report.clockOffsetMs, errorMs: (report.clockRttMs ?? 0) / 2 },
): HeardLatencySplit | undefined {
  if (!clock) return undefined;
  const agentMs = agent.firstAudioSentAt - agent.speechEndReceivedAt;
  const uplinkMs = agent.speechEndReceivedAt - (report.callerSpeechEndAt + clock.offsetMs);
  return {
    uplinkMs,
    agentMs,
    downlinkMs: report.heardLatencyMs - agentMs - uplinkMs,
    errorMs: clock.errorMs,
  };
}
