/**
 * `measureHeardLatency(room)` for a caller written with `@livekit/rtc-node` (a test caller, a load
 * generator, a SIP bridge): what the caller waits, from the last voiced sample it sends to the
 * first audible sample of the agent's track it receives, on one clock. The caller's own audio is
 * handed over frame by frame as it publishes it ({@link HeardLatencyMeter.captureFrame} in place
 * of `AudioSource.captureFrame`); the agent's track is read from the room. Each turn is sent to
 * the agent as a `heard_latency` report on the metrics topic (see heard-report.ts).
 */
import {
  type AudioFrame,
  type AudioSource,
  AudioStream,
  ParticipantKind,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type Room,
  RoomEvent,
  TrackKind,
} from '@livekit/rtc-node';
import { MetricsConfigError } from '../errors.js';
import { queuedInSource } from '../util/audio-source-queue.js';
import { DEFAULT_TOPIC } from '../wire/messages.js';
import { type AgentCandidate, ambiguousAgentMessage, chooseAgent } from './agent-choice.js';
import {
  type ClockEstimate,
  type ClockSample,
  type HeardLatencyReport,
  clockSample,
  encodeCallerMessage,
  estimateClockOffset,
  newMeterId,
  parseCallerMessage,
  toCallerMessage,
} from './heard-report.js';
import {
  type HeardTurn,
  HeardLatencyTracker,
  VOICE_ACTIVITY_DEFAULTS,
  type VoiceActivityOptions,
  type VoicedSpan,
  WINDOW_MS,
  windowLevel,
} from './heard-latency-tracker.js';

/** Options of {@link measureHeardLatency}; every field has a default. */
export interface MeasureHeardLatencyOptions extends VoiceActivityOptions {
  /** Data topic the agent's metrics use. Default `'agent-metrics'`. */
  topic?: string;
  /**
   * The identity of the agent to measure. Default: the participant of kind agent that publishes
   * audio, else (a bot joined with a plain token) the only remote participant that publishes
   * audio. Where several could be it, nothing is measured and a warning (once) asks for this.
   */
  agentIdentity?: string;
  /** Where the warning goes (pino-compatible). Default: `console.warn`. */
  logger?: { warn(obj: object, msg?: string): void };
  /** Send each report to the agent. Default `true` (with `false` it is only measured locally). */
  send?: boolean;
  /**
   * How often to repeat the clock exchange with the agent (three pings at the start, then one per
   * interval), so reports carry the clock offset. `0` turns it off. Default `10000` ms. An agent
   * that does not answer costs one small packet per interval.
   */
  clockSyncIntervalMs?: number;
  /** Called with each report (after it is sent). Errors it throws are swallowed. */
  onReport?: (report: HeardLatencyReport) => void;
  /** Rate at which the agent's track is read for analysis. Default `16000` Hz. */
  sampleRate?: number;
  /** The caller's clock, ms. Default `performance.timeOrigin + performance.now()`. */
  now?: () => number;
}

export interface HeardLatencyMeterStats {
  micFrames: number;
  agentFrames: number;
  reportsSent: number;
  sendFailures: number;
  clockSamples: number;
  /** Reports (and pings) not sent because the agent's schema would refuse them (e.g. a
   * latency over 60 s), see `toCallerMessage`. */
  schemaDropped: number;
  /** Fields the schema fixed on the way out (an out-of-range clock offset dropped, …). */
  schemaAdjusted: number;
}

export interface HeardLatencyMeter {
  /**
   * Hands over one frame of the caller's own audio, as it is published; `capturedAt` (caller
   * clock, default now) is when its last sample was captured. Call it for every frame, silence
   * included, in order.
   */
  micFrame(frame: AudioFrame, capturedAt?: number): void;
  /**
   * `source.captureFrame(frame)`, with the frame handed to {@link micFrame} as it goes: its last
   * sample counts as sent once the audio already queued in `source` has gone (at once for a
   * source made with a queue size of 0, which suits a caller that paces its frames in real time).
   */
  captureFrame(source: AudioSource, frame: AudioFrame): Promise<void>;
  /** Reports so far, oldest first (the last 1000). */
  readonly reports: readonly HeardLatencyReport[];
  readonly stats: Readonly<HeardLatencyMeterStats>;
  /** The current clock estimate (agent − caller), once an exchange has completed. */
  clock(): ClockEstimate | undefined;
  /** Stops listening and sending. Idempotent. */
  close(): Promise<void>;
}

const MAX_REPORTS = 1_000;
const MAX_CLOCK_SAMPLES = 16;
const MAX_PINGS_IN_FLIGHT = 16;
const FIRST_PINGS_MS = [0, 300, 600];

/** Tenths of a millisecond (and never -0, which JSON would turn into 0). */
const round1 = (x: number) => Math.round(x * 10) / 10 || 0;

/**
 * Starts measuring the heard latency of the agent in `room` (already connected or not).
 *
 * @throws MetricsConfigError when `room` or an option is not usable.
 */
export function measureHeardLatency(
  room: Room,
  options: MeasureHeardLatencyOptions = {},
): HeardLatencyMeter {
  validate(room, options);
  return new Meter(room, options);
}

class Meter implements HeardLatencyMeter {
  readonly reports: HeardLatencyReport[] = [];
  readonly stats: HeardLatencyMeterStats = {
    micFrames: 0,
    agentFrames: 0,
    reportsSent: 0,
    sendFailures: 0,
    clockSamples: 0,
    schemaDropped: 0,
    schemaAdjusted: 0,
  };
  /** This helper's id in its reports: a new one tells the agent it restarted (seq from 1). */
  private readonly meter = newMeterId();
  private readonly now: () => number;
  private readonly topic: string;
  private readonly threshold: number;
  private readonly tracker: HeardLatencyTracker;
  private readonly logger: NonNullable<MeasureHeardLatencyOptions['logger']>;
  private readonly readers = new Map<string, ReadableStreamDefaultReader<AudioFrame>>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly pings = new Map<number, number>();
  private readonly samples: ClockSample[] = [];
  /** The participant measured as the agent, once one is chosen. */
  private agentIdentity?: string;
  private warned = false;
  private seq = 0;
  private pingId = 0;
  private closed = false;

  constructor(
    private readonly room: Room,
    private readonly options: MeasureHeardLatencyOptions,
  ) {
    this.now = options.now ?? (() => performance.timeOrigin + performance.now());
    this.topic = options.topic ?? DEFAULT_TOPIC;
    this.threshold = options.threshold ?? VOICE_ACTIVITY_DEFAULTS.threshold;
    this.tracker = new HeardLatencyTracker(options);
    this.logger = options.logger ?? {
      warn: (obj, msg) => console.warn('[livekit-agents-metrics]', msg ?? '', obj),
    };
    room.on(RoomEvent.TrackSubscribed, this.onTrack);
    room.on(RoomEvent.TrackPublished, this.choose);
    room.on(RoomEvent.TrackUnpublished, this.choose);
    room.on(RoomEvent.ParticipantDisconnected, this.choose);
    room.on(RoomEvent.DataReceived, this.onData);
    this.choose();
  }

  micFrame(frame: AudioFrame, capturedAt = this.now()): void {
    if (this.closed) return;
    try {
      this.stats.micFrames++;
      // sample i of n was captured (n − 1 − i) sample periods before the frame's last one
      const msPerSample = 1000 / frame.sampleRate;
      const first = capturedAt - (frame.samplesPerChannel - 1) * msPerSample;
      for (const span of this.spans(frame, first)) this.tracker.mic(span);
    } catch {
      // a malformed frame is skipped; the caller's audio must never fail because of us
    }
  }

  async captureFrame(source: AudioSource, frame: AudioFrame): Promise<void> {
    // a queued source sends the frame once the audio ahead of it has gone
    this.micFrame(frame, this.now() + (queuedInSource(source) ?? 0));
    await source.captureFrame(frame);
  }

  clock(): ClockEstimate | undefined {
    return estimateClockOffset(this.samples);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.room.off(RoomEvent.TrackSubscribed, this.onTrack);
    this.room.off(RoomEvent.TrackPublished, this.choose);
    this.room.off(RoomEvent.TrackUnpublished, this.choose);
    this.room.off(RoomEvent.ParticipantDisconnected, this.choose);
    this.room.off(RoomEvent.DataReceived, this.onData);
    await this.stopMeasuring();
  }

  /** Stops reading the agent's audio and the clock exchange with it. */
  private async stopMeasuring(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pings.clear();
    this.samples.length = 0;
    const readers = [...this.readers.values()];
    this.readers.clear();
    await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
  }

  /**
   * (Re)decides which participant is the agent, from what the room shows now (on every change of
   * who publishes what), and starts or stops measuring accordingly.
   */
  private readonly choose = (): void => {
    if (this.closed) return;
    const candidates: AgentCandidate[] = [];
    for (const p of this.room.remoteParticipants.values()) {
      const audio = [...p.trackPublications.values()].some((t) => t.kind === TrackKind.KIND_AUDIO);
      candidates.push({
        identity: p.identity,
        isAgent: p.kind === ParticipantKind.AGENT,
        publishesAudio: audio,
      });
    }
    const choice = chooseAgent(candidates, {
      agentIdentity: this.options.agentIdentity,
      current: this.agentIdentity,
    });
    if (choice.ambiguous && !this.warned) {
      this.warned = true;
      try {
        this.logger.warn({ candidates: choice.ambiguous }, ambiguousAgentMessage(choice));
      } catch {
        // the app's logger is its own business
      }
    }
    if (choice.identity === this.agentIdentity) return;
    // another participant (or none) is the agent now: what was read of the old one goes
    void this.stopMeasuring();
    this.agentIdentity = choice.identity;
    const agent = choice.identity && this.room.remoteParticipants.get(choice.identity);
    if (!agent) return;
    this.startClockSync();
    for (const pub of agent.trackPublications.values()) {
      if (pub.track) this.onTrack(pub.track, pub, agent);
    }
  };

  /** Voiced 10 ms windows of channel 0 of `frame`, whose first sample is at `firstAt`. */
  private *spans(frame: AudioFrame, firstAt: number): Generator<VoicedSpan> {
    const { data, sampleRate, channels, samplesPerChannel } = frame;
    const msPerSample = 1000 / sampleRate;
    const perWindow = Math.max(1, Math.round((sampleRate * WINDOW_MS) / 1000));
    for (let start = 0; start < samplesPerChannel; start += perWindow) {
      const end = Math.min(samplesPerChannel, start + perWindow);
      const level = windowLevel(
        data,
        start * channels,
        end * channels,
        1 / 32768,
        this.threshold,
        channels,
      );
      if (level.rms < this.threshold || level.firstLoud < 0) continue;
      const at = (i: number) => firstAt + i * msPerSample;
      yield {
        startAt: at(start),
        endAt: at(end),
        firstLoudAt: at(start + level.firstLoud),
        lastLoudAt: at(start + level.lastLoud),
        voicedMs: (end - start) * msPerSample,
      };
    }
  }

  private readonly onTrack = (
    track: RemoteTrack,
    _publication: RemoteTrackPublication | undefined,
    participant: RemoteParticipant,
  ): void => {
    if (this.closed || track.kind !== TrackKind.KIND_AUDIO) return;
    if (this.agentIdentity === undefined) return this.choose();
    if (participant.identity !== this.agentIdentity) return;
    const sid = track.sid ?? participant.identity;
    if (this.readers.has(sid)) return;
    const reader = new AudioStream(track, {
      sampleRate: this.options.sampleRate ?? 16_000,
      numChannels: 1,
    }).getReader();
    this.readers.set(sid, reader);
    void this.read(reader, sid);
  };

  private async read(reader: ReadableStreamDefaultReader<AudioFrame>, sid: string): Promise<void> {
    try {
      for (;;) {
        const { done, value: frame } = await reader.read();
        if (done || this.closed) break;
        // a received frame is audible from its arrival: sample i plays i periods later. (Not the
        // stream's sample count: rtc-node's stream has gaps, e.g. 2 s of a 22 s call)
        const arrivedAt = this.now();
        this.stats.agentFrames++;
        for (const span of this.spans(frame, arrivedAt)) {
          const turn = this.tracker.agent(span);
          if (turn) this.report(turn);
        }
      }
    } catch {
      // the stream ends with the track or the room
    } finally {
      if (this.readers.get(sid) === reader) this.readers.delete(sid);
    }
  }

  private report(turn: HeardTurn): void {
    const callerSpeechEndAt = round1(turn.callerSpeechEndAt);
    const agentAudioAt = round1(turn.agentAudioAt);
    const draft: HeardLatencyReport = {
      v: 1,
      type: 'heard_latency',
      seq: this.seq + 1,
      meter: this.meter,
      heardLatencyMs: round1(agentAudioAt - callerSpeechEndAt),
      callerSpeechEndAt,
      agentAudioAt,
    };
    const clock = this.clock();
    if (clock) {
      draft.clockOffsetMs = round1(clock.offsetMs);
      draft.clockRttMs = round1(clock.rttMs);
    }
    // what the agent would refuse is not sent, nor kept as a report: the meter's reports are
    // exactly what the agent can accept
    const report = toCallerMessage(draft, this.counts) as HeardLatencyReport | null;
    this.syncCounts();
    if (!report) return;
    this.seq = report.seq;
    this.reports.push(report);
    if (this.reports.length > MAX_REPORTS) this.reports.shift();
    if (this.options.send !== false) this.send(encodeCallerMessage(report), 'report');
    try {
      this.options.onReport?.(report);
    } catch {
      // the app's callback is its own business
    }
  }

  private readonly counts = { dropped: 0, adjusted: 0 };

  private syncCounts(): void {
    this.stats.schemaDropped = this.counts.dropped;
    this.stats.schemaAdjusted = this.counts.adjusted;
  }

  private send(payload: Uint8Array | undefined, what: 'report' | 'ping'): void {
    const agent = this.agentIdentity;
    const local = this.room.localParticipant;
    if (!payload) return;
    if (!agent || !local) {
      if (what === 'report') this.stats.sendFailures++;
      return;
    }
    local
      .publishData(payload, { reliable: true, topic: this.topic, destination_identities: [agent] })
      .then(
        () => {
          if (what === 'report') this.stats.reportsSent++;
        },
        () => {
          if (what === 'report') this.stats.sendFailures++;
        },
      );
  }

  private startClockSync(): void {
    const interval = this.options.clockSyncIntervalMs ?? 10_000;
    if (interval <= 0) return;
    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!this.closed) fn();
      }, ms);
      t.unref?.();
      this.timers.add(t);
    };
    for (const ms of FIRST_PINGS_MS) later(ms, () => this.ping());
    const every = () => {
      this.ping();
      later(interval, every);
    };
    later(FIRST_PINGS_MS.at(-1)! + interval, every);
  }

  private ping(): void {
    const id = ++this.pingId;
    const sentAt = this.now();
    this.pings.set(id, sentAt);
    if (this.pings.size > MAX_PINGS_IN_FLIGHT) this.pings.delete(this.pings.keys().next().value!);
    this.send(encodeCallerMessage({ v: 1, type: 'clock_ping', id, sentAt }, this.counts), 'ping');
    this.syncCounts();
  }

  private readonly onData = (
    payload: Uint8Array,
    participant?: RemoteParticipant,
    _kind?: unknown,
    topic?: string,
  ): void => {
    if (this.closed || topic !== this.topic || participant?.identity !== this.agentIdentity) return;
    const receivedAt = this.now();
    const pong = parseCallerMessage(payload);
    if (pong?.type !== 'clock_pong' || this.pings.get(pong.id) !== pong.pingSentAt) return;
    this.pings.delete(pong.id);
    this.samples.push(clockSample(pong, receivedAt));
    if (this.samples.length > MAX_CLOCK_SAMPLES) this.samples.shift();
    this.stats.clockSamples++;
  };
}

function validate(room: Room, options: MeasureHeardLatencyOptions): void {
  const r = room as Partial<Record<'on' | 'off', unknown>> | null | undefined;
  if (typeof r?.on !== 'function' || typeof r.off !== 'function') {
    throw new MetricsConfigError('room', 'expected an @livekit/rtc-node Room');
  }
  if (typeof options !== 'object' || options === null) {
    throw new MetricsConfigError('options', 'expected an object or nothing');
  }
  const positive = (name: keyof MeasureHeardLatencyOptions, max: number, zero = false) => {
    const v = options[name];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!zero && v === 0) || v > max) {
      throw new MetricsConfigError(name, `expected a number in ${zero ? '[' : '('}0, ${max}]`);
    }
  };
  positive('threshold', 1);
  positive('hangoverMs', 10_000, true);
  positive('minSpeechMs', 10_000, true);
  positive('agentSilenceMs', 10_000, true);
  positive('clockSyncIntervalMs', 3_600_000, true);
  positive('sampleRate', 192_000);
  if (options.topic !== undefined && (typeof options.topic !== 'string' || options.topic === '')) {
    throw new MetricsConfigError('topic', 'expected the non-empty data topic the agent uses');
  }
  if (
    options.agentIdentity !== undefined &&
    (typeof options.agentIdentity !== 'string' || options.agentIdentity === '')
  ) {
    throw new MetricsConfigError('agentIdentity', "expected the agent's participant identity");
  }
  const logger = options.logger as { warn?: unknown } | null | undefined;
  if (logger !== undefined && (typeof logger !== 'object' || typeof logger?.warn !== 'function')) {
    throw new MetricsConfigError('logger', 'expected an object with a warn(obj, msg) method');
  }
  if (options.onReport !== undefined && typeof options.onReport !== 'function') {
    throw new MetricsConfigError('onReport', 'expected a function');
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new MetricsConfigError('now', 'expected a function returning milliseconds');
  }
}
