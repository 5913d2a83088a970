/**
 * A caller's audio: its microphone, paced in real time, and its reading of the agent's track
 * (when an answer starts, and how long the agent has been quiet).
 */
import type * as Rtc from '@livekit/rtc-node';
import {
  VOICE_ACTIVITY_DEFAULTS,
  WINDOW_MS,
  windowLevel,
} from '../caller/heard-latency-tracker.js';
import type { Utterance } from './wav.js';

/** The caller's clock, the caller meter's: ms since the epoch, monotonic. */
export const now = (): number => performance.timeOrigin + performance.now();

/** The call was aborted (the run's signal). */
export class Aborted extends Error {}

const FRAME_MS = 10;

/** A microphone on a paced clock: one 10 ms frame per tick, the utterance or silence. */
export class Microphone {
  private clip?: {
    utterance: Utterance;
    offset: number;
    endAt?: number;
    done: (endAt: number) => void;
  };
  private stopped = false;

  constructor(
    private readonly rtc: typeof Rtc,
    private readonly source: Rtc.AudioSource,
    private readonly capture: (frame: Rtc.AudioFrame) => Promise<void>,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Speaks `utterance` from the next frame; resolves with its last voiced sample's send time. */
  say(utterance: Utterance, signal: AbortSignal): Promise<number> {
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new Aborted());
      signal.addEventListener('abort', onAbort, { once: true });
      this.clip = {
        utterance,
        offset: 0,
        done: (endAt) => {
          signal.removeEventListener('abort', onAbort);
          resolve(endAt);
        },
      };
    });
  }

  private async run(): Promise<void> {
    const rate = this.source.sampleRate;
    const n = (rate * FRAME_MS) / 1000;
    const start = performance.now();
    for (let k = 0; !this.stopped; k++) {
      const wait = start + (k + 1) * FRAME_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.stopped) break;
      const data = new Int16Array(n);
      const clip = this.clip;
      const sentAt = now();
      if (clip) {
        const { samples, lastVoiced } = clip.utterance;
        const take = Math.min(n, samples.length - clip.offset);
        data.set(samples.subarray(clip.offset, clip.offset + take));
        if (lastVoiced >= clip.offset && lastVoiced < clip.offset + take) {
          // the frame's last sample goes out now; sample p of it (n − 1 − p) periods earlier
          clip.endAt = sentAt - (n - 1 - (lastVoiced - clip.offset)) * (1000 / rate);
        }
        clip.offset += take;
      }
      try {
        await this.capture(new this.rtc.AudioFrame(data, rate, 1, n));
      } catch {
        if (this.stopped) break;
      }
      if (clip && clip.offset >= clip.utterance.samples.length) {
        this.clip = undefined;
        clip.done(clip.endAt ?? sentAt);
      }
    }
  }
}

/** This caller's reading of the agent's track: onsets (after 200 ms of quiet) and quiet. */
export class AgentReader {
  private lastVoicedEnd?: number;
  private reader?: ReadableStreamDefaultReader<Rtc.AudioFrame>;

  constructor(private readonly onOnset: (at: number) => void) {}

  read(stream: ReadableStream<Rtc.AudioFrame>): void {
    const reader = (this.reader = stream.getReader());
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          this.frame(value, now());
        }
      } catch {
        // the stream ends with the track or the room
      }
    })();
  }

  /** Time since the agent's last voiced window; long when it never spoke. */
  quietFor(): number {
    return this.lastVoicedEnd === undefined ? Infinity : now() - this.lastVoicedEnd;
  }

  stop(): void {
    void this.reader?.cancel().catch(() => {});
  }

  private frame(frame: Rtc.AudioFrame, arrivedAt: number): void {
    const { data, sampleRate, samplesPerChannel, channels } = frame;
    const per = Math.max(1, Math.round((sampleRate * WINDOW_MS) / 1000));
    const ms = 1000 / sampleRate;
    const threshold = VOICE_ACTIVITY_DEFAULTS.threshold;
    for (let start = 0; start < samplesPerChannel; start += per) {
      const end = Math.min(samplesPerChannel, start + per);
      const level = windowLevel(
        data,
        start * channels,
        end * channels,
        1 / 32768,
        threshold,
        channels,
      );
      if (level.rms < threshold || level.firstLoud < 0) continue;
      const startAt = arrivedAt + start * ms;
      const quiet =
        this.lastVoicedEnd === undefined ||
        startAt - this.lastVoicedEnd >= VOICE_ACTIVITY_DEFAULTS.agentSilenceMs;
      this.lastVoicedEnd = arrivedAt + end * ms;
      if (quiet) this.onOnset(arrivedAt + (start + level.firstLoud) * ms);
    }
  }
}
