import { STAT_NAMES, type StatName, statDef } from '../catalog/index.js';
import type { Signal } from '../ingest/signals.js';
import type { MetricSample, TurnTimeline } from '../types.js';
import { type OpenTurn, type UserSide, buildTimeline, mergeUserSides } from './timeline.js';

/** What the tracker hands downstream. */
export interface TurnTrackerOutput {
  /** A latency sample that belongs in the stats: everything measured, interrupted turns
   * included (a request cut off before its first output has no latency and gives none). */
  sample(sample: MetricSample): void;
  turn(turn: TurnTimeline): void;
  /** A tool execution ended, once per call id. */
  toolOutcome(name: string, outcome: 'ok' | 'error' | 'cancelled'): void;
  /** A speech that was never a turn (a discarded preemptive generation) ended; what was
   * reported for it belongs to no turn. */
  discarded?(id: string): void;
}

interface RunningTool {
  name: string;
  startedAt: number;
  turnId?: string;
}

/** The catalog's turn-level stats and how each is read from a completed turn. */
const TURN_STATS = STAT_NAMES.flatMap((name) => {
  const read = statDef(name).fromTurn;
  return read ? [[name, read] as [StatName, NonNullable<typeof read>]] : [];
});

/** How long an unclaimed user turn waits for the speech that answers it. */
const USER_TURN_CLAIM_MS = 10_000;
/** How far before the framework's end of speech the acoustic one may lie and still be its. */
const MAX_SPEECH_END_LAG_MS = 3_000;
/** The acoustic end may trail the framework's estimate a little (its VAD subtracts an estimate). */
const MAX_SPEECH_END_LEAD_MS = 300;
/** Call ids and ended turns remembered to recognize late or duplicate reports. */
const MEMORY = 256;

/**
 * Correlates signals into per-turn timelines. A turn is the agent's answer, identified by the
 * framework's speech id (a tool call's reply reuses its speech), together with the user turn it
 * answers: what the caller lived. A speech that was never scheduled (a preemptive generation the
 * framework discarded) is not a turn. Pure and clock-free: every timestamp comes from the
 * signals.
 */
export class TurnTracker {
  private readonly open = new Map<string, OpenTurn>();
  /** Ended turns by id (to recognize late or duplicate reports). */
  private readonly ended = new Set<string>();
  private readonly runningTools = new Map<string, RunningTool>();
  private readonly endedCalls = new Set<string>();
  private pendingUser: { user: UserSide; at: number; speechId?: string } | undefined;
  /** Whether the STT reports per-request latency (non-streaming), which then takes precedence
   * over the end-of-speech → transcript delay. */
  private sttReportsRequests = false;
  private latestTurnId: string | undefined;
  /** The streaming STT that made the latest final transcript (its latency sample's labels). */
  private sttProvider: { provider: string; model: string } | undefined;
  /** The last voiced sample of the received audio, when something watches it. */
  private lastVoicedAt: number | undefined;
  /** Whether the caller is speaking (`user_state`), and where their latest speech ended, until
   * a realtime model's answer to it claims it. */
  private userSpeaking = false;
  private speechEnd: UserSide | undefined;
  /** Item ids of a realtime model's input transcripts: their chat messages are the text of a
   * spoken turn, not a typed one. */
  private readonly realtimeItems = new Set<string>();
  /** Speeches discarded unplayed: late reports for them belong to no turn. */
  private readonly discardedIds = new Set<string>();
  peakTools = 0;

  constructor(private readonly out: TurnTrackerOutput) {}

  get activeTools(): number {
    return this.runningTools.size;
  }

  handle(signal: Signal): void {
    switch (signal.kind) {
      case 'speech_created':
        return this.onSpeechCreated(
          signal.speechId,
          signal.at,
          signal.traceId,
          // a realtime model's answer to speech its server-side turn detection ended
          // (voice/agent_activity.ts onGenerationCreated)
          signal.userInitiated === false && signal.source === 'generate_reply',
        );
      case 'speech_done':
        if (signal.scheduled === false) return this.discard(signal.speechId);
        return this.endTurn(signal.speechId, signal.at, signal.interrupted);
      case 'end_of_turn':
        return this.onUserTurn(
          {
            input: 'voice',
            stoppedSpeakingAt: signal.stoppedSpeakingAt,
            transcriptionDelayMs: signal.transcriptionDelayMs,
            endOfTurnDelayMs: signal.endOfTurnDelayMs,
          },
          signal.at,
          signal.speechId,
        );
      case 'user_message':
        // A realtime model's transcript of the caller's speech, added to the chat whenever it
        // arrives (before or after the answer): the spoken turn it transcribes starts at the end
        // of that speech (onSpeechCreated), and a transcript is no turn of its own.
        if (signal.itemId !== undefined && this.realtimeItems.has(signal.itemId)) return;
        return this.onUserTurn(
          signal.stoppedSpeakingAt !== undefined
            ? {
                input: 'voice',
                stoppedSpeakingAt: signal.stoppedSpeakingAt,
                transcriptionDelayMs: signal.transcriptionDelayMs,
                endOfTurnDelayMs: signal.endOfTurnDelayMs,
              }
            : { input: 'text', committedAt: signal.createdAt },
          signal.at,
        );
      case 'stt_final_transcript':
        if (signal.itemId !== undefined) {
          remember(this.realtimeItems, signal.itemId);
          return;
        }
        if (signal.provider)
          this.sttProvider = { provider: signal.provider, model: signal.model ?? 'unknown' };
        return;
      case 'stt_request':
        if (!signal.streamed && signal.durationMs > 0) {
          this.sttReportsRequests = true;
          this.out.sample({
            stat: 'stt_latency',
            value: signal.durationMs,
            at: signal.at,
            provider: signal.provider,
            model: signal.model,
          });
        }
        return;
      case 'llm_request':
        return this.onLlmRequest(signal);
      case 'tts_request':
        return this.onTtsRequest(signal);
      case 'tool_started':
        return this.onToolStarted(signal.callId, signal.name, signal.at, signal.speechId);
      case 'tool_finished':
        return this.onToolFinished(signal);
      case 'user_audio_ended':
        this.lastVoicedAt = signal.lastVoicedAt;
        return;
      case 'user_state':
        if (signal.state === 'speaking') this.userSpeaking = true;
        else if (signal.state === 'listening' && this.userSpeaking) {
          this.userSpeaking = false;
          this.speechEnd = { input: 'voice', stoppedSpeakingAt: signal.at };
        }
        return;
      case 'agent_speaking':
        return this.onAgentStarted(signal.at);
      case 'agent_audio_out':
        return this.onAgentAudioOut(signal.startedAt, signal.audibleAt);
      case 'agent_message':
        if (signal.startedSpeakingAt !== undefined) this.onAgentStarted(signal.startedSpeakingAt);
        return;
      case 'session_closed':
        for (const id of [...this.open.keys()]) this.endTurn(id, signal.at, true);
        return;
      default:
        return;
    }
  }

  private onSpeechCreated(id: string, at: number, traceId: string | undefined, spoken: boolean) {
    if (this.open.has(id) || this.ended.has(id)) return;
    const turn: OpenTurn = { id, createdAt: at, traceId, stages: [], held: [] };
    this.open.set(id, turn);
    this.latestTurnId = id;
    const end = this.speechEnd;
    const stoppedAt = end?.stoppedSpeakingAt;
    if (spoken && end && stoppedAt !== undefined && at >= stoppedAt) {
      // A realtime model answers the speech its server ended: the turn starts at that end
      // (the server's speech_stopped, as the framework's user state tells it), not when its
      // transcript, which may come after the answer, is added to the chat.
      this.speechEnd = undefined;
      if (at - stoppedAt < USER_TURN_CLAIM_MS) turn.user = this.withAcousticEnd(end);
      return;
    }
    const pending = this.pendingUser;
    if (
      pending &&
      (pending.speechId === id || (!pending.speechId && at - pending.at < USER_TURN_CLAIM_MS))
    ) {
      turn.user = pending.user;
      this.pendingUser = undefined;
    }
  }

  /** The acoustic end of the speech (src/heard/), when it lies near the framework's end. */
  private withAcousticEnd(user: UserSide): UserSide {
    const voiced = this.lastVoicedAt;
    const stopped = user.stoppedSpeakingAt;
    if (
      voiced !== undefined &&
      stopped !== undefined &&
      voiced >= stopped - MAX_SPEECH_END_LAG_MS &&
      voiced <= stopped + MAX_SPEECH_END_LEAD_MS
    ) {
      user.audioEndedAt = voiced;
    }
    return user;
  }

  private onUserTurn(user: UserSide, at: number, speechId?: string): void {
    this.withAcousticEnd(user);
    const byId = speechId ? this.open.get(speechId) : undefined;
    const target = byId ?? (speechId ? undefined : this.latestAnswerWithoutUser(user));
    if (!target) {
      if (speechId && this.ended.has(speechId)) return;
      this.pendingUser = { user, at, speechId };
      return;
    }
    // The end-of-utterance metrics and the user's chat message describe the same turn.
    target.user = target.user ? mergeUserSides(target.user, user) : user;
  }

  /** The newest open turn that has no user side yet, or whose voice timing matches. */
  private latestAnswerWithoutUser(user: UserSide): OpenTurn | undefined {
    const turn = this.latestTurnId ? this.open.get(this.latestTurnId) : undefined;
    if (!turn) return undefined;
    if (!turn.user) return turn;
    const sameVoiceTurn =
      turn.user.input === 'voice' &&
      user.stoppedSpeakingAt !== undefined &&
      Math.abs((turn.user.stoppedSpeakingAt ?? 0) - user.stoppedSpeakingAt) < 5;
    return sameVoiceTurn ? turn : undefined;
  }

  private turnFor(speechId: string | undefined): OpenTurn | undefined {
    if (speechId) return this.open.get(speechId);
    return this.latestTurnId ? this.open.get(this.latestTurnId) : undefined;
  }

  /** Holds a sample in its turn, or commits it when the turn is unknown or already ended well.
   * The sample is a fresh object owned by the tracker, so it is completed in place. */
  private record(sample: MetricSample, speechId: string | undefined): void {
    if (speechId !== undefined && this.discardedIds.has(speechId)) return this.out.sample(sample);
    const turn = this.turnFor(speechId);
    if (turn) {
      sample.turnId = turn.id;
      if (sample.traceId === undefined && turn.traceId !== undefined) sample.traceId = turn.traceId;
      turn.held.push(sample);
      return;
    }
    if (speechId) sample.turnId = speechId;
    this.out.sample(sample);
  }

  private providerSample(
    stat: MetricSample['stat'],
    value: number,
    s: { at: number; provider: string; model: string; traceId?: string },
  ): MetricSample {
    const sample: MetricSample = { stat, value, at: s.at, provider: s.provider, model: s.model };
    if (s.traceId !== undefined) sample.traceId = s.traceId;
    return sample;
  }

  private onLlmRequest(s: Extract<Signal, { kind: 'llm_request' }>): void {
    const turn = this.turnFor(s.speechId);
    const outcome = s.cancelled ? 'cancelled' : s.ttftMs === undefined ? 'error' : 'ok';
    turn?.stages.push({
      stage: 'llm',
      startAt: s.startedAt,
      offsetMs: 0,
      durationMs: s.durationMs,
      firstOutputMs: s.ttftMs,
      outcome,
    });
    // Cut off (or failed) before its first token: no latency to speak of.
    if (s.ttftMs === undefined) return;
    if (turn && !turn.traceId && s.traceId) turn.traceId = s.traceId;
    this.record(this.providerSample('ttft', s.ttftMs, s), s.speechId);
    // An interrupted request's time to first token is real; its end and its rate are not.
    if (s.cancelled) return;
    this.record(this.providerSample('ttlt', s.durationMs, s), s.speechId);
    if (s.completionTokens > 0 && s.tokensPerSec > 0) {
      this.record(this.providerSample('tokens_per_sec', s.tokensPerSec, s), s.speechId);
    }
  }

  private onTtsRequest(s: Extract<Signal, { kind: 'tts_request' }>): void {
    const turn = this.turnFor(s.speechId);
    turn?.stages.push({
      stage: 'tts',
      startAt: s.startedAt,
      offsetMs: 0,
      durationMs: s.durationMs,
      firstOutputMs: s.ttfbMs,
      outcome: s.cancelled ? 'cancelled' : s.ttfbMs === undefined ? 'error' : 'ok',
    });
    // Cut off (or failed) before its first audio: no latency; otherwise it is real, interrupted
    // or not.
    if (s.ttfbMs === undefined) return;
    this.record(this.providerSample('tts_latency', s.ttfbMs, s), s.speechId);
  }

  private onToolStarted(callId: string, name: string, at: number, speechId?: string): void {
    if (this.endedCalls.has(callId) || this.runningTools.has(callId)) return;
    const turnId = this.turnFor(speechId)?.id ?? speechId;
    this.runningTools.set(callId, { name, startedAt: at, turnId });
    this.peakTools = Math.max(this.peakTools, this.runningTools.size);
  }

  private onToolFinished(s: Extract<Signal, { kind: 'tool_finished' }>): void {
    if (this.endedCalls.has(s.callId)) return;
    remember(this.endedCalls, s.callId);
    const running = this.runningTools.get(s.callId);
    this.runningTools.delete(s.callId);
    const startedAt = running?.startedAt ?? s.startedAt;
    const name = running?.name ?? s.name;
    const outcome = s.isError ? 'error' : 'ok';
    this.out.toolOutcome(name, outcome);
    if (startedAt === undefined) return;
    const durationMs = Math.max(0, s.at - startedAt);
    const speechId = running?.turnId ?? s.speechId;
    this.turnFor(speechId)?.stages.push({
      stage: 'function',
      name,
      startAt: startedAt,
      offsetMs: 0,
      durationMs,
      outcome,
    });
    this.record(
      { stat: 'function_execution', value: durationMs, at: s.at, functionName: name, outcome },
      speechId,
    );
  }

  private onAgentStarted(at: number): void {
    const turn = this.turnFor(undefined);
    if (!turn) return;
    if (turn.agentStartedSpeakingAt === undefined || at < turn.agentStartedSpeakingAt) {
      turn.agentStartedSpeakingAt = at;
    }
  }

  /** The turn's first audible audio out: its `agent_output` stage (the first segment's only). */
  private onAgentAudioOut(startedAt: number, audibleAt: number): void {
    const turn = this.turnFor(undefined);
    if (!turn || turn.stages.some((s) => s.stage === 'agent_output')) return;
    turn.stages.push({
      stage: 'agent_output',
      startAt: startedAt,
      offsetMs: 0,
      durationMs: audibleAt - startedAt,
      outcome: 'ok',
    });
  }

  /**
   * A speech that ended without ever being scheduled: a preemptive generation the framework
   * discarded (the final transcript differed from the one it started on). The caller neither
   * asked for it nor heard it: no turn, no interruption. Its requests were made and stay counted
   * (the ledger has them); its samples are real and go to the stats without a turn.
   */
  private discard(id: string): void {
    const turn = this.open.get(id);
    remember(this.discardedIds, id);
    if (!turn) return;
    this.open.delete(id);
    if (this.latestTurnId === id) this.latestTurnId = newestKey(this.open);
    remember(this.ended, id);
    for (const [callId, tool] of this.runningTools) {
      if (tool.turnId !== id) continue;
      this.runningTools.delete(callId);
      remember(this.endedCalls, callId);
      this.out.toolOutcome(tool.name, 'cancelled');
    }
    for (const sample of turn.held) {
      delete sample.turnId;
      this.out.sample(sample);
    }
    // a user side it claimed (by time) waits for the answer that replaces it
    if (turn.user && !this.pendingUser) this.pendingUser = { user: turn.user, at: turn.createdAt };
    this.out.discarded?.(id);
  }

  private endTurn(id: string, at: number, speechInterrupted: boolean): void {
    const turn = this.open.get(id);
    if (!turn) return;
    this.open.delete(id);
    if (this.latestTurnId === id) this.latestTurnId = newestKey(this.open);
    // Interrupted: the caller talked over the answer (or the session closed while it played).
    // Cut off before the agent said anything, the turn is cancelled: there was nothing to
    // talk over.
    const interrupted = speechInterrupted && turn.agentStartedSpeakingAt !== undefined;

    // Tools still running when their speech ends were cancelled with it.
    for (const [callId, tool] of this.runningTools) {
      if (tool.turnId !== id) continue;
      this.runningTools.delete(callId);
      remember(this.endedCalls, callId);
      this.out.toolOutcome(tool.name, 'cancelled');
      turn.stages.push({
        stage: 'function',
        name: tool.name,
        startAt: tool.startedAt,
        offsetMs: 0,
        durationMs: Math.max(0, at - tool.startedAt),
        outcome: 'cancelled',
      });
    }

    const timeline = buildTimeline(turn, at, interrupted);
    remember(this.ended, id);
    // What was measured is real whether or not the user later talked over the answer: an
    // interrupted or cancelled turn keeps its samples (requests cut off before their first
    // output gave none).
    for (const sample of turn.held) this.out.sample(sample);
    const trace = turn.traceId ? { traceId: turn.traceId } : {};
    const user = turn.user;
    if (
      user?.input === 'voice' &&
      !this.sttReportsRequests &&
      user.transcriptionDelayMs !== undefined
    ) {
      this.out.sample({
        stat: 'stt_latency',
        value: user.transcriptionDelayMs,
        ...this.sttProvider,
        at,
        turnId: id,
        ...trace,
      });
    }
    for (const [stat, read] of TURN_STATS) {
      const value = read(timeline);
      if (value !== undefined) this.out.sample({ stat, value, at, turnId: id, ...trace });
    }
    this.out.turn(timeline);
  }
}

function newestKey(map: Map<string, OpenTurn>): string | undefined {
  let newest: OpenTurn | undefined;
  for (const turn of map.values()) if (!newest || turn.createdAt >= newest.createdAt) newest = turn;
  return newest?.id;
}

function remember(set: Set<string>, key: string): void {
  set.add(key);
  if (set.size > MEMORY) set.delete(set.values().next().value!);
}
