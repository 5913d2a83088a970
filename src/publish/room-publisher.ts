/**
 * The data-channel sink: publishes a session's summaries, turns and alerts to the participants of
 * the job's room (see `src/wire/messages.ts` for the format). It never throws into the agent: a
 * message that cannot be sent is counted by reason (and logged once), and a summary that could not
 * go out is sent when the room is connected again.
 */
import { randomBytes } from 'node:crypto';
import type { ResolvedPublishOptions } from '../config.js';
import type { MetricsLocalParticipant, MetricsRoom } from '../options.js';
import type { AlertEvent, MetricsSink, MetricsSummary, TurnTimeline } from '../types.js';
import type { Guard } from '../util/guard.js';
import { decodeSummaryRequest } from '../wire/decode.js';
import { type EncodeFailure, encodeChecked } from '../wire/encode.js';
import {
  type MetricsMessage,
  type MetricsMessageType,
  WIRE_VERSION,
  summaryRpcMethod,
} from '../wire/messages.js';
import type { WireAdjustment, WireValueKind } from '../wire/schema.js';
import { RequestLimiter } from './request-limiter.js';

/** Why a message was not delivered (the `reason` of `dropped_messages`); `invalid`: not valid
 * for a receiver even with its values adjusted. */
export type DropReason = 'not_connected' | 'publish_failed' | 'rate_limited' | EncodeFailure;

export interface PublisherDeps {
  summary(): MetricsSummary;
  /** The last completed turn, sent with the summary to a viewer who arrives late. */
  lastTurn(): TurnTimeline | undefined;
  now(): number;
  guard: Guard;
  sent?(type: MetricsMessageType): void;
  dropped(reason: DropReason): void;
  /** A value a receiver would refuse was clamped or dropped from a message (`schema.ts`,
   * `WIRE_VALUE_KINDS`), so that the rest of it still goes out. */
  adjusted?(kind: WireValueKind, action: WireAdjustment): void;
}

/** A joining participant gets the current summary this long after it joined: its data channel
 * is usually not open yet when the server announces it. (It can also ask at once, by RPC.) */
const JOIN_RESEND_DELAY_MS = 1_000;

const textDecoder = new TextDecoder();

/**
 * The room publisher sink: summaries, turns and alerts of one session, to the room.
 */
export class RoomPublisher implements MetricsSink {
  private readonly room: MetricsRoom;
  private readonly session = randomBytes(6).toString('hex');
  private seq = 0;
  /** The last summary sent, without its timestamps: a summary goes out only when it differs. */
  private sentFingerprint = '';
  private lastSummaryAt = -Infinity;
  private summaryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly tick: ReturnType<typeof setInterval>;
  private readonly joinTimers = new Set<ReturnType<typeof setTimeout>>();
  private rpcParticipant: MetricsLocalParticipant | undefined;
  /** Summary requests and RPCs: they come from participants, so they are rate limited. */
  private readonly limiter: RequestLimiter;
  private finished = false;

  /**
   * A publisher subscribed to the room's events, or `undefined` when the room refuses one (it
   * threw; counted by the guard, nothing left subscribed): the owner then leaves it out.
   */
  static start(opts: ResolvedPublishOptions, deps: PublisherDeps): RoomPublisher | undefined {
    const publisher = new RoomPublisher(opts, deps);
    return publisher.subscribe() ? publisher : undefined;
  }

  private constructor(
    private readonly opts: ResolvedPublishOptions,
    private readonly deps: PublisherDeps,
  ) {
    this.room = opts.room;
    this.limiter = new RequestLimiter(deps.now);
    // Changes that no event announces (e.g. a failed STT request) go out on this tick.
    this.tick = setInterval(() => this.summarySoon(), opts.intervalMs);
    this.tick.unref?.();
  }

  private subscribe(): boolean {
    for (const [event, handler] of this.roomEvents()) {
      if (!this.deps.guard.run('room', `room:on:${event}`, () => this.room.on(event, handler))) {
        this.finished = true;
        this.stop();
        return false;
      }
    }
    // Not now: the owner finishes wiring its sinks first (a message sent now would report
    // itself, through `deps.sent`, to an owner still being built).
    queueMicrotask(() =>
      this.guard('connect', () => this.room.isConnected && this.onConnectionChange()),
    );
    return true;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the room's own listener type
  private roomEvents(): [string, (...args: any[]) => void][] {
    return [
      ['connectionStateChanged', this.onConnectionChange],
      ['reconnected', this.onConnectionChange],
      ['participantConnected', this.onParticipantConnected],
      ['dataReceived', this.onData],
    ];
  }

  /** A turn completed: publish its timeline now, and the new summary within the interval. */
  turn(turn: TurnTimeline): void {
    if (this.finished) return;
    this.publish({ ...this.base(), type: 'turn', turn });
    this.summarySoon();
  }

  /** An alert was raised or cleared. */
  alert(alert: AlertEvent): void {
    if (this.finished) return;
    this.publish({ ...this.base(), type: 'alert', alert });
    this.summarySoon();
  }

  /** The session closed: publish the final summary and stop. */
  close(): void {
    this.finish();
  }

  /** The session closed: publish the final summary and stop. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.publish({ ...this.base(), type: 'summary', final: true, summary: this.deps.summary() });
    this.finished = true;
    this.stop();
  }

  private stop(): void {
    clearInterval(this.tick);
    clearTimeout(this.summaryTimer);
    for (const timer of this.joinTimers) clearTimeout(timer);
    this.joinTimers.clear();
    for (const [event, handler] of this.roomEvents()) {
      this.deps.guard.run('room', `room:off:${event}`, () => this.room.off(event, handler));
    }
    this.guard('rpc_unregister', () =>
      this.rpcParticipant?.unregisterRpcMethod?.(summaryRpcMethod(this.opts.topic)),
    );
  }

  /** Sends the summary now if it changed and the interval has passed, or schedules it. */
  private summarySoon(): void {
    if (this.finished || this.summaryTimer) return;
    const wait = this.lastSummaryAt + this.opts.intervalMs - this.deps.now();
    if (wait <= 0) {
      this.sendSummaryIfChanged();
      return;
    }
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      this.sendSummaryIfChanged();
    }, wait);
    this.summaryTimer.unref?.();
  }

  private sendSummaryIfChanged(): void {
    // A summary that cannot go out now is not lost: it goes once the room is connected again.
    if (this.finished || !this.room.isConnected) return;
    this.guard('summary', () => {
      const summary = this.deps.summary();
      const fingerprint = JSON.stringify({ ...summary, at: 0 });
      if (fingerprint === this.sentFingerprint) return;
      this.lastSummaryAt = this.deps.now();
      if (this.publish({ ...this.base(), type: 'summary', final: false, summary })) {
        this.sentFingerprint = fingerprint;
      }
    });
  }

  private readonly onConnectionChange = (): void => {
    if (this.finished || !this.room.isConnected) return;
    this.guard('rpc_register', () => this.registerRpc());
    this.sentFingerprint = ''; // receivers may have missed what was sent before the drop
    this.summarySoon();
  };

  private readonly onParticipantConnected = (participant?: { identity?: string }): void => {
    const identity = participant?.identity;
    if (this.finished || !identity || !this.isRecipient(identity)) return;
    const timer = setTimeout(() => {
      this.joinTimers.delete(timer);
      if (this.finished || !this.room.isConnected) return;
      this.guard('join_summary', () => this.sendStateTo(identity));
    }, JOIN_RESEND_DELAY_MS);
    timer.unref?.();
    this.joinTimers.add(timer);
  };

  /**
   * A viewer asked for the summary (see SummaryRequestMessage). A sender the SDK names gets it
   * alone; a request without one (a hidden participant's packet) is answered to every recipient,
   * never to the identity the request claims, so nobody can direct the agent's messages.
   */
  private readonly onData = (
    payload: Uint8Array,
    participant?: { identity?: string },
    _kind?: unknown,
    topic?: string,
  ): void => {
    if (this.finished || topic !== this.opts.topic || !(payload instanceof Uint8Array)) return;
    this.guard('summary_request', () => {
      if (!decodeSummaryRequest(payload)) return;
      const identity = participant?.identity;
      if (identity !== undefined && !this.isRecipient(identity)) return;
      if (!this.limiter.allow(identity)) return this.deps.dropped('rate_limited');
      if (identity === undefined) this.sendStateTo(undefined);
      else this.sendStateTo(identity);
    });
  };

  /** Brings one late viewer (or, `undefined`, every recipient) up to date: the summary, then
   * the last turn's timeline. */
  private sendStateTo(identity: string | undefined): void {
    const to = identity === undefined ? this.opts.destinationIdentities : [identity];
    const summary = this.deps.summary();
    this.publish({ ...this.base(), type: 'summary', final: false, summary }, to);
    this.sendLastTurnTo(identity);
  }

  private sendLastTurnTo(identity: string | undefined): void {
    const to = identity === undefined ? this.opts.destinationIdentities : [identity];
    const turn = this.deps.lastTurn();
    if (turn) this.publish({ ...this.base(), type: 'turn', turn }, to);
  }

  /** Answers the summary RPC, so a late joiner or a hidden observer gets the state at once. */
  private registerRpc(): void {
    const participant = this.room.localParticipant;
    if (!participant?.registerRpcMethod || participant === this.rpcParticipant) return;
    participant.registerRpcMethod(summaryRpcMethod(this.opts.topic), async ({ callerIdentity }) => {
      if (!this.isRecipient(callerIdentity)) throw new Error('not a recipient of these metrics');
      if (!this.limiter.allow(callerIdentity)) {
        this.deps.dropped('rate_limited');
        throw new Error('too many summary requests; retry in a second');
      }
      const bytes = this.encode({
        ...this.base(),
        type: 'summary',
        final: this.finished,
        summary: this.deps.summary(),
      });
      if (!bytes) throw new Error('the summary could not be encoded');
      // the answer carries the summary; the last turn follows over the data channel
      setTimeout(() => this.guard('rpc_turn', () => this.sendLastTurnTo(callerIdentity)), 0);
      return textDecoder.decode(bytes);
    });
    this.rpcParticipant = participant;
  }

  private isRecipient(identity: string): boolean {
    const only = this.opts.destinationIdentities;
    return !only || only.includes(identity);
  }

  private base() {
    this.seq += 1;
    return {
      v: WIRE_VERSION,
      session: this.session,
      seq: this.seq,
      at: this.deps.now(),
      room: this.room.name ?? '',
    };
  }

  /** Encodes and sends one message; `false` when it was dropped (and counted). */
  private publish(message: MetricsMessage, to = this.opts.destinationIdentities): boolean {
    const participant = this.room.localParticipant;
    if (!this.room.isConnected || !participant) {
      this.drop('not_connected', message.type);
      return false;
    }
    const bytes = this.encode(message);
    if (!bytes) return false;
    let sent: unknown;
    try {
      sent = participant.publishData(bytes, {
        reliable: true,
        topic: this.opts.topic,
        ...(to ? { destination_identities: to } : {}),
      });
    } catch (error) {
      this.drop('publish_failed', message.type, error);
      return false;
    }
    this.deps.guard.watch('room', 'room:publishData', sent, (error) =>
      this.drop('publish_failed', message.type, error),
    );
    this.deps.sent?.(message.type);
    return true;
  }

  /** The message as a receiver reads it (each value adjusted on the way counted), or
   * `undefined` when it was dropped (and counted). */
  private encode(message: MetricsMessage): Uint8Array | undefined {
    const bytes = encodeChecked(message, {
      adjusted: (kind, action) => this.deps.adjusted?.(kind, action),
    });
    if (typeof bytes !== 'string') return bytes;
    this.drop(bytes, message.type);
    return undefined;
  }

  private drop(reason: DropReason, type: MetricsMessageType, error?: unknown): void {
    this.deps.dropped(reason);
    this.deps.guard.warnOnce(
      `publish:${reason}`,
      { reason, type, ...(error === undefined ? {} : { error: String(error) }) },
      'a metrics message for the room was not delivered; the agent is unaffected',
    );
  }

  /** Room work (its participant, its state) goes through the one guard. */
  private guard(where: string, fn: () => unknown): void {
    this.deps.guard.run('room', `publish:${where}`, fn);
  }
}
