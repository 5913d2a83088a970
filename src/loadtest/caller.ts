/**
 * One synthetic call: an `@livekit/rtc-node` caller joins its room, dispatches the agent, and
 * speaks its utterances like a polite person (the next one after the answer has ended and a
 * pause, or after a timeout that leaves the turn unanswered), its microphone paced in real time
 * (an AudioSource with no queue) and measured by the caller meter (`measureHeardLatency`), which
 * also sends each turn to the agent. Its own reading of the agent's track tells when an answer
 * starts and ends, and which question it answers (answers.ts).
 */
import type * as Rtc from '@livekit/rtc-node';
import { measureHeardLatency } from '../caller/measure-heard-latency.js';
import { decodeMessage } from '../wire/decode.js';
import type { AnswerBook, TurnRecord } from './answers.js';
import { Aborted, AgentReader, Microphone, now } from './audio.js';
import type { LoadTestTurn } from './types.js';
import type { Utterance } from './wav.js';

export interface CallPlan {
  rtc: typeof Rtc;
  url: string;
  token: string;
  room: string;
  /** Dispatches the agent (after the caller has joined). */
  dispatch: () => Promise<void>;
  utterances: readonly Utterance[];
  /** Which utterance the call starts with. */
  first: number;
  answerTimeoutMs: number;
  agentJoinTimeoutMs: number;
  /** The pause before each question, ms (a fresh draw each time). */
  pause: () => number;
  /**
   * Called once the call's agent is up (or the call failed before): resolves, once every call of
   * the step has got so far, with the time after which the call asks no new question (caller
   * clock, ms). So a step measures its calls all up at once, whatever their agents' start took.
   */
  ready: (up: boolean) => Promise<number>;
  topic: string;
  signal: AbortSignal;
}

export interface CallResult {
  /** Dispatch → the agent's audio track subscribed, ms. */
  dispatchToAgentMs?: number;
  /** Whether the agent joined and published audio. */
  agentUp: boolean;
  error?: string;
  /** The error is a missing agent (a timeout after an accepted dispatch). */
  noAgent: boolean;
  turns: LoadTestTurn[];
  late: number;
  misattributed: number;
  agentReports: number;
}

/** The live state the runner reads for its progress line. */
export interface CallState {
  up: boolean;
  book: AnswerBook;
}

/** The agent has finished its answer after this much silence on its track (a received track
 * stalls for a second at times on a busy machine: a shorter wait would talk over the answer). */
const ANSWER_END_SILENCE_MS = 1_500;
/** How long a call that is over waits for the agent to publish its last turn back. */
const AGENT_REPORT_WAIT_MS = 5_000;
/** An answer longer than this is not waited out. */
const MAX_ANSWER_MS = 30_000;

/** Waits until `ready()` returns a value, `timeoutMs` passes (undefined) or the call is aborted. */
async function until<T>(
  ready: () => T | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<T | undefined> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (signal.aborted) throw new Aborted();
    const value = ready();
    if (value !== undefined) return value;
    if (now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function runCall(plan: CallPlan, state: CallState): Promise<CallResult> {
  const { rtc } = plan;
  const result: CallResult = {
    agentUp: false,
    noAgent: false,
    turns: [],
    late: 0,
    misattributed: 0,
    agentReports: 0,
  };
  const book = state.book;
  const room = new rtc.Room();
  const rate = plan.utterances[0]!.sampleRate;
  const source = new rtc.AudioSource(rate, 1, 0);
  const meter = measureHeardLatency(room, {
    topic: plan.topic,
    // no echo here: the caller's audio is a file, and a late answer may play while it speaks
    ignoreMicWhileAgentAudible: false,
    clockSyncIntervalMs: 5_000,
    onReport: (r) => book.report(r),
  });
  const agentTurns = new Map<string, { heardMs: number; uplinkMs?: number; downlinkMs?: number }>();
  let agentTrack: Rtc.RemoteTrack | undefined;
  room.on(rtc.RoomEvent.TrackSubscribed, (track, _pub, participant) => {
    if (track.kind === rtc.TrackKind.KIND_AUDIO && participant.kind === rtc.ParticipantKind.AGENT)
      agentTrack ??= track;
  });
  room.on(rtc.RoomEvent.DataReceived, (payload, _participant, _kind, topic) => {
    if (topic !== plan.topic || agentTurns.size >= 10_000) return;
    const message = decodeMessage(payload);
    if (message?.type !== 'turn' || message.turn.heardLatencyMs === undefined) return;
    const stage = (name: string) => message.turn.stages.find((s) => s.stage === name)?.durationMs;
    agentTurns.set(message.turn.id, {
      heardMs: message.turn.heardLatencyMs,
      uplinkMs: stage('uplink'),
      downlinkMs: stage('downlink'),
    });
  });

  let readied = false;
  const mic = new Microphone(rtc, source, (frame) => meter.captureFrame(source, frame));
  const reader = new AgentReader((at) => {
    if (book.onset(at) === 'late') result.late++;
  });
  try {
    try {
      await withTimeout(
        room.connect(plan.url, plan.token, { autoSubscribe: true, dynacast: false }),
        plan.agentJoinTimeoutMs,
        'joining the room',
      );
      const track = rtc.LocalAudioTrack.createAudioTrack('microphone', source);
      await room.localParticipant!.publishTrack(
        track,
        new rtc.TrackPublishOptions({ source: rtc.TrackSource.SOURCE_MICROPHONE }),
      );
    } catch (error) {
      throw new CallFailure(`could not join room ${plan.room}: ${(error as Error).message}`);
    }
    mic.start();
    const dispatchedAt = now();
    await plan.dispatch();
    const track = await until(() => agentTrack, plan.agentJoinTimeoutMs, plan.signal);
    if (!track) {
      result.noAgent = true;
      throw new CallFailure('no agent joined');
    }
    result.dispatchToAgentMs = now() - dispatchedAt;
    result.agentUp = state.up = true;
    reader.read(new rtc.AudioStream(track, { sampleRate: 16_000, numChannels: 1 }));
    readied = true;
    const lastQuestionAt = await plan.ready(true);

    for (let k = plan.first; now() < lastQuestionAt; k++) {
      // a person waits for quiet, then pauses before speaking
      await until(
        () => (reader.quietFor() >= ANSWER_END_SILENCE_MS ? true : undefined),
        MAX_ANSWER_MS,
        plan.signal,
      );
      await until(() => undefined, plan.pause(), plan.signal);
      if (now() >= lastQuestionAt) break;
      const utterance = plan.utterances[k % plan.utterances.length]!;
      const endAt = await mic.say(utterance, plan.signal);
      book.spoke(endAt);
      const answered = await until(
        () => (book.isWaiting ? undefined : true),
        plan.answerTimeoutMs,
        plan.signal,
      );
      if (!answered) book.giveUp(now());
    }
    // the agent takes a report once the turn it answers has ended, and publishes that turn back:
    // hanging up first would leave the last turn without it (dropped as no_turn)
    await until(
      () => (reader.quietFor() >= ANSWER_END_SILENCE_MS ? true : undefined),
      MAX_ANSWER_MS,
      plan.signal,
    );
    const back = () =>
      book.turns.every(
        (t) =>
          !t.fromMeter ||
          [...agentTurns.values()].some((a) => Math.abs(a.heardMs - t.heardMs!) <= 0.15),
      );
    await until(
      () => (back() ? true : undefined),
      agentTurns.size > 0 ? AGENT_REPORT_WAIT_MS : 1_000,
      plan.signal,
    );
  } catch (error) {
    if (!readied) void plan.ready(false);
    if (error instanceof CallFailure) result.error = error.message;
    else if (!(error instanceof Aborted)) result.error = `call failed: ${(error as Error).message}`;
  } finally {
    state.up = false;
    book.finish();
    mic.stop();
    reader.stop();
    await meter.close().catch(() => {});
    await room.disconnect().catch(() => {});
    await source.close().catch(() => {});
  }
  result.misattributed = book.misattributed;
  result.turns = book.turns.map((t, i) => toTurn(t, i, plan.room, agentTurns));
  result.agentReports = result.turns.filter((t) => t.agent).length;
  return result;
}

class CallFailure extends Error {}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function toTurn(
  t: TurnRecord,
  turn: number,
  room: string,
  agentTurns: ReadonlyMap<string, { heardMs: number; uplinkMs?: number; downlinkMs?: number }>,
): LoadTestTurn {
  const outcome = t.outcome === 'waiting' ? 'unanswered' : t.outcome;
  const out: LoadTestTurn = { call: 0, turn, room, outcome };
  if (outcome !== 'answered' || t.heardMs === undefined) return out;
  out.heardMs = Math.round(t.heardMs * 10) / 10;
  if (!t.fromMeter) return out;
  // the agent publishes the turn again with the report it accepted: the same value
  for (const a of agentTurns.values()) {
    if (Math.abs(a.heardMs - t.heardMs) > 0.15) continue;
    out.agent = { heardMs: a.heardMs };
    if (a.uplinkMs !== undefined && a.downlinkMs !== undefined) {
      out.agent.uplinkMs = a.uplinkMs;
      out.agent.downlinkMs = a.downlinkMs;
      out.agent.agentMs = Math.round((a.heardMs - a.uplinkMs - a.downlinkMs) * 10) / 10;
    }
    break;
  }
  return out;
}
