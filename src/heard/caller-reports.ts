/**
 * The agent's side of heard latency: reads what callers' helpers send on the metrics topic
 * (src/caller/heard-report.ts), answers their clock pings, and turns each accepted report into a
 * `heard_latency` sample of the turn it belongs to, whose timeline gains the network stages.
 *
 * Reports are untrusted. One is accepted only when it parses (`parseCallerMessage`: bounded,
 * consistent), comes from the linked caller (see {@link isLinked}), is not a flood, matches a
 * completed, uninterrupted voice turn that has no report yet, and is physically possible (the
 * caller cannot hear the answer before the agent produced it). Everything else is counted by
 * reason and logged once; a report never touches any other metric.
 */
import { TrackSource } from '@livekit/rtc-node';
import {
  type HeardLatencyReport,
  parseCallerMessage,
  splitHeardLatency,
} from '../caller/heard-report.js';
import { ClockResponder } from '../caller/clock-responder.js';
import type { MetricsRoom } from '../options.js';
import type { MetricSample, MetricsSink, TurnStage, TurnTimeline } from '../types.js';
import type { LogOnce } from '../util/log-once.js';
import { decodeSummaryRequest } from '../wire/decode.js';

/** Why a report was not accepted (`dropped_samples{reason="heard_latency:<why>"}`). */
export type HeardRejection =
  'invalid' | 'not_linked' | 'rate_limited' | 'replayed' | 'no_turn' | 'duplicate' | 'implausible';

export interface CallerReportsDeps {
  now(): number;
  /** An accepted report, as a sample of its turn. */
  sample(sample: MetricSample): void;
  rejected(reason: HeardRejection): void;
  /** A completed turn with its heard-latency stages added (same id). */
  amended(turn: TurnTimeline): void;
  logOnce: LogOnce;
}

export interface CallerReportsOptions {
  room: MetricsRoom;
  topic: string;
  /** Identities whose reports are accepted; default: the linked caller (see `isLinked`). */
  from?: readonly string[];
}

/** Reports kept waiting for their turn to complete, and how long at most. */
const MAX_PENDING = 8;
const PENDING_MS = 60_000;
/** Completed turns a late report can still match. */
const RECENT_TURNS = 16;
/** Reports per sender per second at most (one per turn is the norm). */
const MIN_GAP_MS = 500;
/** Without a clock offset, a report belongs to the turn running when it arrived, or that ended
 * this shortly before (a short answer ends before its report crosses the network). */
const ARRIVAL_GRACE_MS = 3_000;
/** With the offset: the caller's speech end, mapped to the agent's clock, lies this far at most
 * before the agent's own end of speech (uplink + end-of-speech lag) … */
const MAX_UPLINK_MS = 5_000;
/** … and not after it by more than the offset's error and this slack. */
const MATCH_SLACK_MS = 100;
/** The network remainder (heard − what the agent measured) may be this negative (rounding,
 * the agent's audio start stamped when the frame was pushed). */
const NEGATIVE_SLACK_MS = 50;

interface Pending {
  report: HeardLatencyReport;
  receivedAt: number;
}

interface Recent {
  turn: TurnTimeline;
  reported: boolean;
}

/** Data events carry the sender as an rtc-node `RemoteParticipant`; only these parts are read. */
interface SenderLike {
  identity?: unknown;
  trackPublications?: Map<string, { source?: unknown; subscribed?: unknown }>;
}

export class CallerReports implements MetricsSink {
  private readonly clock: ClockResponder;
  private readonly pending: Pending[] = [];
  private readonly recent: Recent[] = [];
  private readonly lastFrom = new Map<string, { at: number; seq: number }>();
  /** Without an allowlist: the first caller whose report was accepted; others are not linked. */
  private pinned: string | undefined;
  private closed = false;

  constructor(
    private readonly opts: CallerReportsOptions,
    private readonly deps: CallerReportsDeps,
  ) {
    this.clock = new ClockResponder({
      now: deps.now,
      publish: (payload, identity) =>
        opts.room.localParticipant?.publishData(payload, {
          reliable: true,
          topic: opts.topic,
          destination_identities: [identity],
        }),
    });
    opts.room.on('dataReceived', this.onData);
  }

  /** A turn completed: keep it for reports still to come, and give it the one that waited. */
  turn(turn: TurnTimeline): void {
    if (this.closed) return;
    this.recent.push({ turn, reported: false });
    if (this.recent.length > RECENT_TURNS) this.recent.shift();
    const now = this.deps.now();
    for (let i = 0; i < this.pending.length;) {
      const p = this.pending[i]!;
      const found = this.match(p);
      if (found || now - p.receivedAt > PENDING_MS) {
        this.pending.splice(i, 1);
        if (found) this.accept(p, found);
        else this.reject('no_turn');
      } else i++;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.room.off('dataReceived', this.onData);
    for (let i = 0; i < this.pending.length; i++) this.reject('no_turn');
    this.pending.length = 0;
  }

  private readonly onData = (
    payload: unknown,
    participant?: SenderLike,
    _kind?: unknown,
    topic?: unknown,
  ): void => {
    if (this.closed || topic !== this.opts.topic || !(payload instanceof Uint8Array)) return;
    try {
      const receivedAt = this.deps.now();
      const message = parseCallerMessage(payload);
      if (!message) {
        // the topic also carries viewers' summary requests, which are the publisher's
        if (!decodeSummaryRequest(payload)) this.reject('invalid');
        return;
      }
      const identity = typeof participant?.identity === 'string' ? participant.identity : '';
      if (message.type === 'clock_ping') {
        if (identity && this.isLinked(identity, participant!))
          this.clock.receive(payload, identity);
        return;
      }
      if (message.type !== 'heard_latency') return this.reject('invalid');
      if (!identity || !this.isLinked(identity, participant!)) return this.reject('not_linked');
      const last = this.lastFrom.get(identity);
      if (last && receivedAt - last.at < MIN_GAP_MS) return this.reject('rate_limited');
      if (last && message.seq <= last.seq) return this.reject('replayed');
      this.lastFrom.set(identity, { at: receivedAt, seq: message.seq });
      if (this.opts.from === undefined) this.pinned ??= identity;
      const p = { report: message, receivedAt };
      const found = this.match(p);
      if (found) return this.accept(p, found);
      if (this.pending.length >= MAX_PENDING) this.reject('no_turn');
      else this.pending.push(p);
    } catch (error) {
      this.deps.logOnce.warn(
        'heard_internal',
        { error: String(error) },
        'reading a heard-latency report failed; the agent is unaffected',
      );
    }
  };

  /**
   * With an allowlist, its identities. Without one, the framework's linked participant is not
   * public API (`RoomIO.linkedParticipant` is on the session's internal `_roomIO`), so the plugin
   * uses what it can see: a caller the agent listens to (it publishes a microphone track the
   * agent subscribed to), and after the first accepted report only that caller.
   */
  private isLinked(identity: string, participant: SenderLike): boolean {
    if (this.opts.from !== undefined) return this.opts.from.includes(identity);
    if (this.pinned !== undefined) return identity === this.pinned;
    const publications = participant.trackPublications;
    if (!(publications instanceof Map)) return false;
    for (const pub of publications.values()) {
      if (pub?.source === TrackSource.SOURCE_MICROPHONE && pub.subscribed === true) return true;
    }
    return false;
  }

  /** The completed voice turn a report belongs to (which may already have one), if any. */
  private match(p: Pending): Recent | undefined {
    const r = p.report;
    let best: Recent | undefined;
    let bestScore = Infinity;
    for (const entry of this.recent) {
      const t = entry.turn;
      const agentAt = t.agentStartedSpeakingAt;
      if (t.input !== 'voice' || agentAt === undefined || t.userStoppedSpeakingAt === undefined) {
        continue;
      }
      let score: number;
      if (r.clockOffsetMs !== undefined) {
        const gap = speechEndOf(t) - (r.callerSpeechEndAt + r.clockOffsetMs);
        if (gap < -((r.clockRttMs ?? 0) / 2 + MATCH_SLACK_MS) || gap > MAX_UPLINK_MS) continue;
        score = Math.abs(gap);
      } else {
        if (p.receivedAt < agentAt || p.receivedAt > t.endedAt + ARRIVAL_GRACE_MS) continue;
        score = -agentAt; // the latest such turn
      }
      if (score < bestScore) {
        best = entry;
        bestScore = score;
      }
    }
    return best;
  }

  private accept(p: Pending, entry: Recent): void {
    if (entry.reported) return this.reject('duplicate');
    const t = entry.turn;
    if (t.interrupted || t.cancelled) return this.reject('no_turn');
    const r = p.report;
    const speechEnd = speechEndOf(t);
    const audibleOutAt = audibleOutOf(t);
    const agentMs = audibleOutAt - speechEnd;
    if (r.heardLatencyMs - agentMs < -NEGATIVE_SLACK_MS) return this.reject('implausible');
    entry.reported = true;
    const stages: TurnStage[] = [];
    const add = (stage: TurnStage['stage'], startAt: number, durationMs: number) =>
      stages.push({
        stage,
        startAt,
        offsetMs: startAt - t.startedAt,
        durationMs: Math.max(0, durationMs),
        outcome: 'ok',
      });
    const split = splitHeardLatency(r, {
      speechEndReceivedAt: speechEnd,
      firstAudioSentAt: audibleOutAt,
    });
    if (split) {
      add('uplink', speechEnd - split.uplinkMs, split.uplinkMs);
      add('downlink', audibleOutAt, split.downlinkMs);
    } else {
      add('network', audibleOutAt, r.heardLatencyMs - agentMs);
    }
    const amended: TurnTimeline = {
      ...t,
      heardLatencyMs: r.heardLatencyMs,
      stages: [...t.stages, ...stages].sort((a, b) => a.startAt - b.startAt),
    };
    entry.turn = amended;
    const sample: MetricSample = {
      stat: 'heard_latency',
      value: r.heardLatencyMs,
      at: this.deps.now(),
      turnId: t.id,
    };
    if (t.traceId !== undefined) sample.traceId = t.traceId;
    this.deps.sample(sample);
    this.deps.amended(amended);
  }

  private reject(reason: HeardRejection): void {
    this.deps.rejected(reason);
    this.deps.logOnce.warn(
      `heard:${reason}`,
      { reason },
      'a heard-latency report from a caller was rejected',
    );
  }
}

/** The turn's end of speech on the agent's clock: acoustic when the agent watched its input
 * audio (the speech_end_lag stage starts there), else the framework's. */
function speechEndOf(turn: TurnTimeline): number {
  const lag = turn.stages.find((s) => s.stage === 'speech_end_lag');
  return lag?.startAt ?? turn.userStoppedSpeakingAt!;
}

/** When the turn's first audible audio left the agent: the end of its agent_output stage when
 * the agent watched its output audio, else when it started speaking (its first frame out). */
function audibleOutOf(turn: TurnTimeline): number {
  const out = turn.stages.find((s) => s.stage === 'agent_output');
  return out ? out.startAt + out.durationMs : turn.agentStartedSpeakingAt!;
}
