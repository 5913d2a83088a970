/**
 * What a turn is made of while it is open, and the timeline it becomes when it ends. Pure.
 */
import type { MetricSample, TurnStage, TurnTimeline } from '../types.js';

/** What is known of the user's turn an answer responds to. */
export interface UserSide {
  input: 'voice' | 'text';
  /** Voice: the user stopped speaking; the turn's clock starts here. */
  stoppedSpeakingAt?: number;
  /** Text: the user's message was committed; the turn's clock starts here. */
  committedAt?: number;
  transcriptionDelayMs?: number;
  endOfTurnDelayMs?: number;
  /** Voice: the last voiced sample of the audio the agent received (acoustic end of speech). */
  audioEndedAt?: number;
}

/** A turn (the agent's answer) that has not ended yet. */
export interface OpenTurn {
  id: string;
  createdAt: number;
  traceId?: string;
  user?: UserSide;
  agentStartedSpeakingAt?: number;
  stages: TurnStage[];
  /** Samples held until the turn ends, so they carry the turn's id and trace id. */
  held: MetricSample[];
}

/** A turn's timeline as published: its user side as stages, every stage's offset from the
 * turn's start, the e2e, and whether it was interrupted or cancelled. */
export function buildTimeline(turn: OpenTurn, endedAt: number, interrupted: boolean): TurnTimeline {
  const user = turn.user;
  const input = user?.input ?? 'none';
  const startedAt = user?.stoppedSpeakingAt ?? user?.committedAt ?? turn.createdAt;
  const agentStarted = turn.agentStartedSpeakingAt;
  const stages: TurnStage[] = [];
  if (user?.stoppedSpeakingAt !== undefined) {
    if (user.transcriptionDelayMs !== undefined) {
      stages.push(stage('stt', user.stoppedSpeakingAt, user.transcriptionDelayMs));
    }
    if (user.endOfTurnDelayMs !== undefined) {
      stages.push(stage('end_of_turn', user.stoppedSpeakingAt, user.endOfTurnDelayMs));
    }
    if (user.audioEndedAt !== undefined) {
      // starts at the acoustic end; empty when the framework's estimate came first
      const lag = Math.max(0, user.stoppedSpeakingAt - user.audioEndedAt);
      stages.push(stage('speech_end_lag', user.audioEndedAt, lag));
    }
  }
  stages.push(...turn.stages);
  for (const s of stages) s.offsetMs = s.startAt - startedAt;
  stages.sort((a, b) => a.startAt - b.startAt);
  const e2e =
    input !== 'none' && agentStarted !== undefined && agentStarted >= startedAt
      ? agentStarted - startedAt
      : undefined;
  return {
    id: turn.id,
    ...(turn.traceId ? { traceId: turn.traceId } : {}),
    input,
    startedAt,
    endedAt,
    userStoppedSpeakingAt: user?.stoppedSpeakingAt,
    agentStartedSpeakingAt: agentStarted,
    e2eLatencyMs: e2e,
    interrupted,
    cancelled: !interrupted && agentStarted === undefined,
    stages,
  };
}

function stage(kind: TurnStage['stage'], startAt: number, durationMs: number): TurnStage {
  return { stage: kind, startAt, offsetMs: 0, durationMs, outcome: 'ok' };
}

/** What is known of a user turn from two reports of it: the first report's values win. */
export function mergeUserSides(known: UserSide, other: UserSide): UserSide {
  return {
    input: known.input,
    stoppedSpeakingAt: known.stoppedSpeakingAt ?? other.stoppedSpeakingAt,
    committedAt: known.committedAt ?? other.committedAt,
    transcriptionDelayMs: known.transcriptionDelayMs ?? other.transcriptionDelayMs,
    endOfTurnDelayMs: known.endOfTurnDelayMs ?? other.endOfTurnDelayMs,
    audioEndedAt: known.audioEndedAt ?? other.audioEndedAt,
  };
}
