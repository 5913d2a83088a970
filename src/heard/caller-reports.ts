/**
 * The agent's side of heard latency: reads what callers' helpers send on the metrics topic
 * (src/caller/heard-report.ts), answers their clock pings, and turns each accepted report into a
 * `heard_latency` sample of the turn it belongs to, whose timeline gains the network stages.
 *
 * Reports are untrusted; the trust model is docs/SECURITY.md's "Callers' heard-latency reports".
 * A report is accepted only on its merits: it parses (`parseCallerMessage`: bounded,
 * consistent), comes from a sender that may be the caller (see {@link isCandidate}), is not a
 * flood or a replay, arrived inside the window of a completed, uninterrupted voice turn that has
 * no report yet, and its values fit that turn's timeline on the agent's own clock (see
 * {@link verdict}). Without an allowlist, the first sender whose report is accepted becomes the
 * caller. Everything else is counted by reason and logged once; a report never touches any
 * other metric.
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
import type { Guard } from '../util/guard.js';
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
  guard: Guard;
}

export interface CallerReportsOptions {
  room: MetricsRoom;
  topic: string;
  /** Identities whose reports are accepted; default: the linked caller (see `isLinked`). */
  from?: readonly string[];
}

/** Reports kept waiting for their turn to complete, in all and per sender, and how long. */
const MAX_PENDING = 8;
const MAX_PENDING_PER_SENDER = 2;
const PENDING_MS = 60_000;
/** Completed turns a late report can still match. */
const RECENT_TURNS = 16;
/** Senders whose last report (seq, meter) is remembered. */
const MAX_SENDERS = 64;
/** Reports per sender per second at most (one per turn is the norm). */
const MIN_GAP_MS = 500;
/** A new meter id (a restarted helper, its seq from 1 again) per sender at most this often. */
const NEW_METER_GAP_MS = 10_000;
/** The window: a report arrives after its turn's audio started (the caller heard it first) and
 * at most this long after the turn ended (a short answer ends before its report arrives). */
const ARRIVAL_GRACE_MS = 3_000;
/** The caller's speech end lies at most this far before the agent received it (uplink + the
 * agent's input), and the caller hears the answer at most this far after it left (downlink). */
const MAX_UPLINK_MS = 5_000;
const MAX_DOWNLINK_MS = 5_000;
/** Heard latency below what the agent itself measured, by at most this (rounding; the first
 * frame's time is when it was handed over). */
const NEGATIVE_SLACK_MS = 50;
/** A clock offset is used (to check a report's times and split its network part) only when the
 * exchange it came from had at most this round trip: it is then right to ± half of it. */
const MAX_USABLE_RTT_MS = 2_000;
/** Slack on top of the offset's ± rtt / 2 when its mapped times are checked. */
const MATCH_SLACK_MS = 100;

interface Pending {
  report: HeardLatencyReport;
  receivedAt: number;
  identity: string;
}

interface Recent {
  turn: TurnTimeline;
  reported: boolean;
}

interface Sender {
  /** When its last report passed the rate limit; its seq; its meter id ('' for none). */
  at: number;
  seq: number;
  meter: string;
  /** When it last switched to a new meter id. */
  meterAt?: number;
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
  private readonly senders = new Map<string, Sender>();
  /** Without an allowlist: the sender of the first accepted report; no other sender after it. */
  private pinned: string | undefined;
  private closed = false;

  constructor(
    private readonly opts: CallerReportsOptions,
    private readonly deps: CallerReportsDeps,
  ) {
    this.clock = new ClockResponder({
      now: deps.now,
      publish: (payload, identity) => {
        deps.guard.run('room', 'heard:clock_pong', () =>
          opts.room.localParticipant?.publishData(payload, {
            reliable: true,
            topic: opts.topic,
            destination_identities: [identity],
          }),
        );
      },
    });
    deps.guard.run('room', 'heard:on', () => {
      opts.room.on('dataReceived', this.onData);
      opts.room.on('participantDisconnected', this.onLeft);
    });
  }

  /** The caller whose reports are accepted, once one was (without an allowlist). */
  get caller(): string | undefined {
    return this.pinned;
  }

  /** A turn completed: keep it for reports still to come, and give it the one that waited. */
  turn(turn: TurnTimeline): void {
    if (this.closed) return;
    this.recent.push({ turn, reported: false });
    if (this.recent.length > RECENT_TURNS) this.recent.shift();
    const now = this.deps.now();
    const audioAt = turn.agentStartedSpeakingAt;
    for (let i = 0; i < this.pending.length;) {
      const p = this.pending[i]!;
      const found = this.match(p);
      // a report that arrived before this turn's audio fits no turn still to complete
      const hopeless =
        (audioAt !== undefined && p.receivedAt < audioAt) || now - p.receivedAt > PENDING_MS;
      if (found || hopeless) {
        this.pending.splice(i, 1);
        if (found) this.accept(p, found);
        else this.reject('no_turn');
      } else i++;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deps.guard.run('room', 'heard:off', () => {
      this.opts.room.off('dataReceived', this.onData);
      this.opts.room.off('participantDisconnected', this.onLeft);
    });
    for (let i = 0; i < this.pending.length; i++) this.reject('no_turn');
    this.pending.length = 0;
  }

  /** The caller left: the next accepted report names the next one. */
  private readonly onLeft = (participant?: SenderLike): void => {
    if (participant?.identity === this.pinned) this.pinned = undefined;
  };

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
        if (identity && this.isCandidate(identity, participant!)) {
          this.clock.receive(payload, identity);
        }
        return;
      }
      if (message.type !== 'heard_latency') return this.reject('invalid');
      if (!identity || !this.isCandidate(identity, participant!)) return this.reject('not_linked');
      const refused = this.admit(identity, message, receivedAt);
      if (refused) return this.reject(refused);
      const p = { report: message, receivedAt, identity };
      const found = this.match(p);
      if (found) return this.accept(p, found);
      this.hold(p);
    } catch (error) {
      this.deps.guard.warnOnce(
        'heard_internal',
        { error: String(error) },
        'reading a heard-latency report failed; the agent is unaffected',
      );
    }
  };

  /**
   * Who may be the caller. With an allowlist, its identities. Without one, the framework's linked
   * participant is not public API (`RoomIO.linkedParticipant` is on the session's internal
   * `_roomIO`), so the plugin uses what it can see: a participant the agent listens to (it
   * publishes a microphone track the agent subscribed to) until one's report is accepted on its
   * merits, and then only that one.
   */
  private isCandidate(identity: string, participant: SenderLike): boolean {
    if (this.opts.from !== undefined) return this.opts.from.includes(identity);
    if (this.pinned !== undefined) return identity === this.pinned;
    const publications = participant.trackPublications;
    if (!(publications instanceof Map)) return false;
    for (const pub of publications.values()) {
      if (pub?.source === TrackSource.SOURCE_MICROPHONE && pub.subscribed === true) return true;
    }
    return false;
  }

  /**
   * The sender's rate and sequence: at most one report per 500 ms, and its seq must grow. A new
   * meter id is a restarted helper (seq from 1 again), taken at most once per 10 s: more often,
   * made-up ids would let old reports through as new.
   */
  private admit(
    identity: string,
    report: HeardLatencyReport,
    at: number,
  ): HeardRejection | undefined {
    const meter = report.meter ?? '';
    const s = this.senders.get(identity);
    if (!s) {
      if (this.senders.size >= MAX_SENDERS) this.senders.delete(this.senders.keys().next().value!);
      this.senders.set(identity, { at, seq: report.seq, meter });
      return undefined;
    }
    if (at - s.at < MIN_GAP_MS) return 'rate_limited';
    if (meter !== s.meter) {
      if (s.meterAt !== undefined && at - s.meterAt < NEW_METER_GAP_MS) return 'rate_limited';
      s.meter = meter;
      s.meterAt = at;
      s.seq = 0;
    }
    if (report.seq <= s.seq) return 'replayed';
    s.at = at;
    s.seq = report.seq;
    return undefined;
  }

  /** A report whose turn has not completed yet waits for it, a bounded number per sender. */
  private hold(p: Pending): void {
    const own = this.pending.filter((q) => q.identity === p.identity);
    if (own.length >= MAX_PENDING_PER_SENDER) {
      this.pending.splice(this.pending.indexOf(own[0]!), 1);
      this.reject('no_turn');
    } else if (this.pending.length >= MAX_PENDING) {
      return this.reject('no_turn');
    }
    this.pending.push(p);
  }

  /**
   * The completed voice turn a report belongs to (which may already have one), if any: among the
   * turns whose window holds its arrival (agent clock only), the one its clock-mapped times fit
   * best when it has a usable offset, else the latest.
   */
  private match(p: Pending): Recent | undefined {
    let best: Recent | undefined;
    let bestScore = Infinity;
    const clock = usableClock(p.report);
    for (const entry of this.recent) {
      const t = entry.turn;
      const audioAt = t.agentStartedSpeakingAt;
      if (t.input !== 'voice' || audioAt === undefined || t.userStoppedSpeakingAt === undefined) {
        continue;
      }
      if (p.receivedAt < audioAt || p.receivedAt > t.endedAt + ARRIVAL_GRACE_MS) continue;
      // a turn its times fit comes first (the nearest speech end), then the latest
      let score = -audioAt;
      if (clock && verdict(p, t) === undefined) {
        score = -1e15 + Math.abs(speechEndOf(t) - (p.report.callerSpeechEndAt + clock.offsetMs));
      }
      if (score < bestScore) {
        best = entry;
        bestScore = score;
      }
    }
    return best;
  }

  private accept(p: Pending, entry: Recent): void {
    const t = entry.turn;
    // another sender's report, accepted while this one waited, named the caller
    if (this.opts.from === undefined && this.pinned !== undefined && p.identity !== this.pinned) {
      return this.reject('not_linked');
    }
    if (entry.reported) return this.reject('duplicate');
    if (t.interrupted || t.cancelled) return this.reject('no_turn');
    const why = verdict(p, t);
    if (why) return this.reject(why);
    entry.reported = true;
    if (this.opts.from === undefined) this.pinned ??= p.identity;
    const r = p.report;
    const speechEnd = speechEndOf(t);
    const audibleOutAt = audibleOutOf(t);
    const agentMs = audibleOutAt - speechEnd;
    const stages: TurnStage[] = [];
    const add = (stage: TurnStage['stage'], startAt: number, durationMs: number) =>
      stages.push({
        stage,
        startAt,
        offsetMs: startAt - t.startedAt,
        durationMs: Math.max(0, durationMs),
        outcome: 'ok',
      });
    const clock = usableClock(r);
    const split =
      clock &&
      splitHeardLatency(
        r,
        { speechEndReceivedAt: speechEnd, firstAudioSentAt: audibleOutAt },
        clock,
      );
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
    this.deps.guard.warnOnce(
      `heard:${reason}`,
      { reason },
      'a heard-latency report from a caller was rejected',
    );
  }
}

/** The report's clock offset, when the exchange it came from bounds its error usefully. */
function usableClock(r: HeardLatencyReport): { offsetMs: number; errorMs: number } | undefined {
  if (r.clockOffsetMs === undefined || r.clockRttMs === undefined) return undefined;
  if (r.clockRttMs > MAX_USABLE_RTT_MS) return undefined;
  return { offsetMs: r.clockOffsetMs, errorMs: r.clockRttMs / 2 };
}

/**
 * Whether a report that arrived inside turn `t`'s window fits it, on the agent's own timeline
 * (`undefined` when it does). Its heard latency lies between what the agent itself measured (end
 * of speech → first audible sample out, − 50 ms) and that plus the longest uplink and downlink,
 * and cannot exceed the time from the end of speech to the report's arrival plus the longest
 * uplink (the caller heard the answer before it reported it). With a usable clock offset, its
 * two times mapped onto the agent's clock must fit too, to within the offset's error + 100 ms:
 * its speech ended before the agent received the end (by at most the longest uplink), and it
 * heard the answer after it left the agent and before its report arrived.
 */
function verdict(p: Pending, t: TurnTimeline): HeardRejection | undefined {
  const r = p.report;
  const speechEnd = speechEndOf(t);
  const outAt = audibleOutOf(t);
  const agentMs = outAt - speechEnd;
  const heard = r.heardLatencyMs;
  const heardAtWire = heard - (r.outputLatencyMs ?? 0);
  if (heard < agentMs - NEGATIVE_SLACK_MS) return 'implausible';
  if (heard > agentMs + MAX_UPLINK_MS + MAX_DOWNLINK_MS + (r.outputLatencyMs ?? 0)) {
    return 'implausible';
  }
  if (heardAtWire > p.receivedAt - speechEnd + MAX_UPLINK_MS) return 'implausible';
  const clock = usableClock(r);
  if (clock) {
    const tol = clock.errorMs + MATCH_SLACK_MS;
    const endAt = r.callerSpeechEndAt + clock.offsetMs;
    const heardAt = r.agentAudioAt + clock.offsetMs;
    if (endAt > speechEnd + tol || endAt < speechEnd - MAX_UPLINK_MS - tol) return 'implausible';
    if (heardAt < outAt - tol || heardAt > p.receivedAt + tol) return 'implausible';
  }
  return undefined;
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
