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
import type { FrameworkContext } from '../framework/context.js';
import { OutputAudioTap, type SinkHooks } from '../framework/output-audio.js';
import { queuedInSource } from '../util/audio-source-queue.js';

export interface OutputAudioProbeOptions {
  now: () => number;
  /** RMS of a 10 ms window at or above which the agent's audio is audible. Default `0.01`. */
  threshold?: number;
  /** A segment handed its first frame to the sink at `startedAt` and its first audible sample
   * leaves at `audibleAt` (agent clock, ms). At most once per segment. */
  audible: (startedAt: number, audibleAt: number) => void;
  /** The guard, and where the feature turns itself off when the framework is not as verified. */
  framework: FrameworkContext;
}

const SCALE = 1 / 32768;
/** Nothing handed to the sink for this long after its audio ran out: the next frame starts a new
 * segment even if the sink did not report the last one finished. */
const SEGMENT_GAP_MS = 1_000;

export class OutputAudioProbe {
  private readonly threshold: number;
  private readonly tap: OutputAudioTap;
  private closed = false;

  constructor(
    session: unknown,
    private readonly opts: OutputAudioProbeOptions,
  ) {
    this.threshold = opts.threshold ?? VOICE_ACTIVITY_DEFAULTS.threshold;
    // the framework's side (finding the sink, wrapping its methods) is src/framework's
    this.tap = new OutputAudioTap(session, opts.framework, ({ audioSource }) =>
      this.sinkHooks(audioSource),
    );
  }

  /** Stops reading frames; every sink gets its own methods back. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tap.close();
  }

  /** The measurement of one sink: its segments and its queue. */
  private sinkHooks(source: unknown): SinkHooks {
    const opts = this.opts;
    const closed = () => this.closed;
    const threshold = this.threshold;
    /** The open segment: when its first frame was handed over, until its first audible one. */
    let open: { startedAt: number } | undefined;
    let awaiting = true;
    /** When the audio handed over so far has left (the modelled queue's end), agent clock. */
    let queueEnd = 0;

    const frameOut = (
      segment: { startedAt: number },
      frame: AudioFrame,
      ms: number,
      modelled: number,
    ) => {
      if (closed() || open !== segment || !awaiting) return;
      const index = firstAudibleSample(frame, threshold);
      if (index < 0) return;
      awaiting = false;
      // the source's own queue, which holds this frame at its end, when it has one
      const queued = queuedInSource(source);
      const startsAt = queued !== undefined ? opts.now() + Math.max(0, queued - ms) : modelled;
      const audibleAt = startsAt + (index / frame.sampleRate) * 1000;
      opts.audible(segment.startedAt, Math.max(segment.startedAt, audibleAt));
    };

    return {
      finished: () => {
        awaiting = true;
        open = undefined;
      },
      cleared: () => {
        queueEnd = 0; // the queue is dropped
      },
      capture: (frame) => {
        const handedAt = opts.now();
        return (result) => {
          const ms = frameMs(frame);
          // a sink that never reports a segment's end: a pause in the audio ends it
          if (open && handedAt - queueEnd > SEGMENT_GAP_MS) open = undefined;
          const starts = Math.max(handedAt, queueEnd);
          queueEnd = starts + ms;
          if (!awaiting) return;
          const segment = (open ??= { startedAt: handedAt });
          void Promise.resolve(result).then(
            () =>
              opts.framework.guard.run('plugin', 'output_audio_probe', () =>
                frameOut(segment, frame, ms, starts),
              ),
            () => {},
          );
        };
      },
    };
  }
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
