/**
 * Watches the audio a session SENDS and reports, per playback segment, when its first audible
 * sample leaves the agent: the turn's `agent_output` stage (first frame handed to the output →
 * first audible sample out: TTS leading silence and the output queue ahead of it).
 *
 * Where: at the sink, the last output of `session.output.audio`'s chain (for a room, the
 * framework's `ParticipantAudioOutput`, which feeds an rtc-node `AudioSource`). The probe reads
 * each frame as the sink is handed it, through a pass-through wrapper of that one object's
 * `captureFrame`: the frame, its order and the returned promise are the sink's own. A segment
 * starts with the first frame handed over after the previous one finished (the sink's
 * `playbackFinished`); once its first audible frame is seen, frames are no longer read until the
 * next segment.
 *
 * When: the sink plays in real time from a queue, as rtc-node's `AudioSource` does: a frame
 * handed over at `t` starts leaving at `max(t, end of the audio queued before it)`. For a sink
 * with an rtc-node `AudioSource`, the queue is the source's own account (`queuedDuration`), read
 * when the frame was accepted; for any other sink it is modelled from the frames handed over.
 */
import type { AudioFrame } from '@livekit/rtc-node';
import {
  VOICE_ACTIVITY_DEFAULTS,
  WINDOW_MS,
  windowLevel,
} from '../caller/heard-latency-tracker.js';
import { queuedInSource } from '../util/audio-source-queue.js';
import { type InterposedAccessor, interposeAccessor } from '../util/interpose-accessor.js';

/** What the probe reads of a session. */
interface SessionWithOutput {
  output?: object;
}

/** The parts of a framework `AudioOutput` the probe uses. */
interface SinkLike {
  captureFrame(frame: AudioFrame): Promise<void>;
  clearBuffer?: () => void;
  on(event: string, listener: () => void): unknown;
  off?(event: string, listener: () => void): unknown;
  nextInChain?: unknown;
  audioSource?: unknown;
}

export interface OutputAudioProbeOptions {
  now: () => number;
  /** RMS of a 10 ms window at or above which the agent's audio is audible. Default `0.01`. */
  threshold?: number;
  /** A segment handed its first frame to the sink at `startedAt` and its first audible sample
   * leaves at `audibleAt` (agent clock, ms). At most once per segment. */
  audible: (startedAt: number, audibleAt: number) => void;
  /** Something failed inside the probe (contained). */
  internalError: (where: string, error: unknown) => void;
}

const SCALE = 1 / 32768;
/** Nothing handed to the sink for this long after its audio ran out: the next frame starts a new
 * segment even if the sink did not report the last one finished. */
const SEGMENT_GAP_MS = 1_000;
/** Outputs in a chain the probe follows to find the sink; a longer chain is not followed. */
const MAX_CHAIN = 16;

interface Installed {
  sink: SinkLike;
  /** Each method the probe wrapped: the sink's own, and the wrapper put in its place. */
  wrapped: Array<{ key: 'captureFrame' | 'clearBuffer'; own: unknown; wrapper: unknown }>;
  onFinished: () => void;
}

export class OutputAudioProbe {
  private readonly threshold: number;
  private readonly installed: Installed[] = [];
  private readonly seen = new WeakSet<object>();
  /** The session's `output.audio`, watched. */
  private audio: InterposedAccessor | undefined;
  private closed = false;

  constructor(
    session: unknown,
    private readonly opts: OutputAudioProbeOptions,
  ) {
    this.threshold = opts.threshold ?? VOICE_ACTIVITY_DEFAULTS.threshold;
    try {
      const output = (session as SessionWithOutput).output;
      if (!output) return;
      this.audio = interposeAccessor(output, 'audio', (audio, set) => {
        set(audio);
        this.watch(audio);
      });
      if (this.audio) this.watch(this.audio.get());
    } catch (error) {
      opts.internalError('output_audio_probe', error);
    }
  }

  /** Stops reading frames; every sink gets its own methods back. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.audio?.restore();
    for (const { sink, wrapped, onFinished } of this.installed) {
      try {
        for (const { key, own, wrapper } of wrapped) {
          // only what is still ours: a wrapper put over ours stays (ours passes frames through)
          if (sink[key] !== wrapper) continue;
          const inherited = (Object.getPrototypeOf(sink) as Partial<SinkLike> | null)?.[key];
          if (inherited === own) Reflect.deleteProperty(sink, key);
          else Object.assign(sink, { [key]: own });
        }
        sink.off?.('playbackFinished', onFinished);
      } catch (error) {
        this.opts.internalError('output_audio_probe', error);
      }
    }
    this.installed.length = 0;
  }

  /** Finds the sink at the end of `head`'s chain and reads what it is handed, once per sink. */
  private watch(head: unknown): void {
    try {
      if (this.closed) return;
      let sink = head;
      for (let i = 0; i < MAX_CHAIN && isSink(sink) && isSink(sink.nextInChain); i++) {
        sink = sink.nextInChain;
      }
      if (!isSink(sink) || this.seen.has(sink)) return;
      this.seen.add(sink);
      this.install(sink);
    } catch (error) {
      this.opts.internalError('output_audio_probe', error);
    }
  }

  private install(sink: SinkLike): void {
    const opts = this.opts;
    const closed = () => this.closed;
    const threshold = this.threshold;
    const original = sink.captureFrame;
    const originalClear = sink.clearBuffer;
    const source = sink.audioSource;
    /** The open segment: when its first frame was handed over, until its first audible one. */
    let open: { startedAt: number } | undefined;
    let awaiting = true;
    /** When the audio handed over so far has left (the modelled queue's end), agent clock. */
    let queueEnd = 0;
    const onFinished = () => {
      awaiting = true;
      open = undefined;
    };
    sink.on('playbackFinished', onFinished);

    const frameOut = (
      segment: { startedAt: number },
      frame: AudioFrame,
      ms: number,
      modelled: number,
    ) => {
      try {
        if (closed() || open !== segment || !awaiting) return;
        const index = firstAudibleSample(frame, threshold);
        if (index < 0) return;
        awaiting = false;
        // the source's own queue, which holds this frame at its end, when it has one
        const queued = queuedInSource(source);
        const startsAt = queued !== undefined ? opts.now() + Math.max(0, queued - ms) : modelled;
        const audibleAt = startsAt + (index / frame.sampleRate) * 1000;
        opts.audible(segment.startedAt, Math.max(segment.startedAt, audibleAt));
      } catch (error) {
        opts.internalError('output_audio_probe', error);
      }
    };

    const captureFrame = function (this: SinkLike, frame: AudioFrame): Promise<void> {
      const handedAt = opts.now();
      const result = original.call(this, frame);
      if (closed()) return result;
      try {
        const ms = frameMs(frame);
        // a sink that never reports a segment's end: a pause in the audio ends it
        if (open && handedAt - queueEnd > SEGMENT_GAP_MS) open = undefined;
        const starts = Math.max(handedAt, queueEnd);
        queueEnd = starts + ms;
        if (awaiting) {
          const segment = (open ??= { startedAt: handedAt });
          void Promise.resolve(result).then(
            () => frameOut(segment, frame, ms, starts),
            () => {},
          );
        }
      } catch (error) {
        opts.internalError('output_audio_probe', error);
      }
      return result;
    };
    sink.captureFrame = captureFrame;
    const wrapped: Installed['wrapped'] = [
      { key: 'captureFrame', own: original, wrapper: captureFrame },
    ];
    if (typeof originalClear === 'function') {
      const clearBuffer = function (this: SinkLike): void {
        queueEnd = 0; // the queue is dropped
        return originalClear.call(this);
      };
      sink.clearBuffer = clearBuffer;
      wrapped.push({ key: 'clearBuffer', own: originalClear, wrapper: clearBuffer });
    }
    this.installed.push({ sink, wrapped, onFinished });
  }
}

function isSink(x: unknown): x is SinkLike {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as SinkLike).captureFrame === 'function' &&
    typeof (x as SinkLike).on === 'function'
  );
}

function frameMs(frame: AudioFrame): number {
  const ms = (frame.samplesPerChannel / frame.sampleRate) * 1000;
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** The first sample at or above the threshold in the frame's first voiced 10 ms window, or −1
 * (channel 0 of interleaved int16; malformed frames are silent). */
export function firstAudibleSample(frame: AudioFrame, threshold: number): number {
  const { data, sampleRate: rate, channels, samplesPerChannel: n } = frame;
  if (!(data instanceof Int16Array) || !(rate >= 8000 && rate <= 192_000)) return -1;
  if (!Number.isInteger(channels) || channels < 1 || channels > 8) return -1;
  if (!Number.isInteger(n) || n < 1 || n * channels > data.length) return -1;
  const perWindow = Math.max(1, Math.round((rate * WINDOW_MS) / 1000));
  for (let start = 0; start < n; start += perWindow) {
    const end = Math.min(n, start + perWindow);
    const level = windowLevel(data, start * channels, end * channels, SCALE, threshold, channels);
    if (level.rms >= threshold && level.firstLoud >= 0) return start + level.firstLoud;
  }
  return -1;
}
