/**
 * The acoustic start and end of the user's speech, from the audio the agent received: a plain
 * energy detector (the caller helpers' windows and threshold, `src/caller/heard-latency-tracker.ts`)
 * fed the session's input frames as they arrive. Pure: the frame's arrival time is passed in.
 */
import {
  VOICE_ACTIVITY_DEFAULTS,
  WINDOW_MS,
  windowLevel,
} from '../caller/heard-latency-tracker.js';

/** Thresholds of the detector; every field has a default. */
export interface VoiceEndOptions {
  /** RMS of a 10 ms window (fraction of full scale) at or above which it is voiced, and the
   * sample magnitude that places the end. Default `0.01` (−40 dBFS). */
  threshold?: number;
  /** A pause shorter than this stays inside the utterance. Default `300` ms. */
  hangoverMs?: number;
  /** Voiced time an utterance needs before its end counts (a click, a cough). Default `120` ms. */
  minSpeechMs?: number;
}

/** The parts of an `AudioFrame` (interleaved int16) the detector reads. */
export interface PcmFrame {
  data: Int16Array;
  sampleRate: number;
  channels: number;
  samplesPerChannel: number;
}

/** What one frame revealed about the utterance (agent clock, ms); fields absent when not. */
export interface VoiceEdges {
  /** The utterance's first voiced sample: reported once its voiced time reaches the minimum
   * speech (a click or a cough starts none), at most once per utterance. */
  startedAt?: number;
  /** The utterance's last voiced sample: reported when its voiced stretch just ended. */
  endedAt?: number;
}

const SCALE = 1 / 32768;

export class VoiceEndDetector {
  private readonly threshold: number;
  private readonly hangoverMs: number;
  private readonly minSpeechMs: number;
  private segment?: {
    voicedMs: number;
    endAt: number;
    firstLoudAt: number;
    lastLoudAt: number;
    started: boolean;
  };
  private inVoice = false;
  private reported?: number;

  constructor(options: VoiceEndOptions = {}) {
    this.threshold = options.threshold ?? VOICE_ACTIVITY_DEFAULTS.threshold;
    this.hangoverMs = options.hangoverMs ?? VOICE_ACTIVITY_DEFAULTS.hangoverMs;
    this.minSpeechMs = options.minSpeechMs ?? VOICE_ACTIVITY_DEFAULTS.minSpeechMs;
  }

  /**
   * One frame, which arrived at `arrivedAt` (its last sample's time; ms). Returns the first voiced
   * sample of a long-enough utterance once it is one, and its last voiced sample when a voiced
   * stretch of it just ended (at most once per stretch); `undefined` when the frame showed
   * neither. Malformed frames are ignored.
   */
  frame(frame: PcmFrame, arrivedAt: number): VoiceEdges | undefined {
    const { data, sampleRate: rate, channels, samplesPerChannel: n } = frame;
    if (!(data instanceof Int16Array) || !(rate >= 8000 && rate <= 192_000)) return undefined;
    if (!Number.isInteger(channels) || channels < 1 || channels > 8) return undefined;
    if (!Number.isInteger(n) || n < 1 || n * channels > data.length) return undefined;
    const perWindow = Math.max(1, Math.round((rate * WINDOW_MS) / 1000));
    const msPerSample = 1000 / rate;
    let edges: VoiceEdges | undefined;
    for (let start = 0; start < n; start += perWindow) {
      const end = Math.min(n, start + perWindow);
      const level = windowLevel(
        data,
        start * channels,
        end * channels,
        SCALE,
        this.threshold,
        channels,
      );
      const at = (i: number) => arrivedAt - (n - 1 - i) * msPerSample;
      if (level.rms >= this.threshold && level.lastLoud >= 0) {
        const windowEnd = at(end - 1);
        const lastLoudAt = at(start + level.lastLoud);
        let seg = this.segment;
        const ms = (end - start) * msPerSample;
        if (!seg || at(start) - seg.endAt >= this.hangoverMs) {
          const firstLoudAt = at(start + level.firstLoud);
          seg = { voicedMs: ms, endAt: windowEnd, firstLoudAt, lastLoudAt, started: false };
          this.segment = seg;
        } else {
          seg.voicedMs += ms;
          seg.endAt = windowEnd;
          seg.lastLoudAt = lastLoudAt;
        }
        if (!seg.started && seg.voicedMs >= this.minSpeechMs) {
          seg.started = true;
          (edges ??= {}).startedAt = seg.firstLoudAt;
        }
        this.inVoice = true;
      } else if (this.inVoice) {
        this.inVoice = false;
        const seg = this.segment!;
        if (seg.voicedMs >= this.minSpeechMs && seg.lastLoudAt !== this.reported) {
          this.reported = seg.lastLoudAt;
          (edges ??= {}).endedAt = seg.lastLoudAt;
        }
      }
    }
    return edges;
  }
}
