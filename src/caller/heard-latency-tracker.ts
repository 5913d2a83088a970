/**
 * The caller-side turn detector, pure and isomorphic: it is fed the voiced stretches of two
 * audio streams (the caller's microphone as sent, the agent's track as received or played) on one
 * clock, and pairs each end of the caller's speech with the first onset of agent audio after it.
 * The Node helper and the browser helper differ only in how they find the voiced stretches.
 *
 * Voice activity is decided per analysis window (10 ms) by its RMS against a threshold; the exact
 * instants come from single samples: the caller's speech ends at the last sample of its last
 * voiced window whose magnitude reaches the threshold, and the agent's audio starts at the first
 * such sample of its first voiced window. Hangover and minimum durations decide what counts as an
 * utterance and an onset; they never shift those instants.
 */

/** Thresholds of the detector; every field has a default. */
export interface VoiceActivityOptions {
  /**
   * RMS of a 10 ms window, as a fraction of full scale, at or above which the window is voiced;
   * also the sample magnitude that places the exact start and end. Default `0.01` (−40 dBFS):
   * above a quiet room and comfort noise, below the decaying tail of a spoken word.
   */
  threshold?: number;
  /**
   * A pause in the caller's voice shorter than this is inside the utterance (between words);
   * longer, the next voiced window starts a new one. Default `300` ms.
   */
  hangoverMs?: number;
  /**
   * Voiced time an utterance needs before its end counts (a cough or a click is shorter).
   * Default `120` ms.
   */
  minSpeechMs?: number;
  /**
   * Silence the agent's track needs before voiced audio counts as a new onset; audio continuing
   * from before the caller's speech end (the agent still talking) is never an answer.
   * Default `200` ms.
   */
  agentSilenceMs?: number;
  /**
   * Treat microphone activity while the agent is audible as echo of the agent (ignored), as a
   * speakerphone without echo cancellation would produce. Default `true`.
   */
  ignoreMicWhileAgentAudible?: boolean;
}

export const VOICE_ACTIVITY_DEFAULTS: Readonly<Required<VoiceActivityOptions>> = {
  threshold: 0.01,
  hangoverMs: 300,
  minSpeechMs: 120,
  agentSilenceMs: 200,
  ignoreMicWhileAgentAudible: true,
};

/** A stretch of voiced windows, on the helper's clock (ms). */
export interface VoicedSpan {
  /** Start of its first window. */
  startAt: number;
  /** End of its last window. */
  endAt: number;
  /** Its first sample at or above the threshold. */
  firstLoudAt: number;
  /** Its last sample at or above the threshold. */
  lastLoudAt: number;
  /** Voiced time in it (the windows' durations). */
  voicedMs: number;
}

/** One turn as the caller heard it. */
export interface HeardTurn {
  callerSpeechEndAt: number;
  agentAudioAt: number;
  /** `agentAudioAt − callerSpeechEndAt`. */
  latencyMs: number;
}

/** Analysis window: short enough to place an onset within 10 ms, long enough for a stable RMS. */
export const WINDOW_MS = 10;

export interface WindowLevel {
  /** RMS as a fraction of full scale. */
  rms: number;
  /** Index (in the window) of the first and last sample at or above the threshold, or -1. */
  firstLoud: number;
  lastLoud: number;
}

/**
 * RMS and loud-sample positions of `samples[start, end)` of one channel of interleaved audio.
 * `scale` maps a sample to full scale (1/32768 for int16, 1 for float).
 */
export function windowLevel(
  samples: ArrayLike<number>,
  start: number,
  end: number,
  scale: number,
  threshold: number,
  stride = 1,
): WindowLevel {
  let sum = 0;
  let firstLoud = -1;
  let lastLoud = -1;
  const limit = threshold / scale;
  let k = 0;
  for (let i = start; i < end; i += stride, k++) {
    const v = samples[i]!;
    sum += v * v;
    if (v >= limit || v <= -limit) {
      if (firstLoud < 0) firstLoud = k;
      lastLoud = k;
    }
  }
  return { rms: k > 0 ? Math.sqrt(sum / k) * scale : 0, firstLoud, lastLoud };
}

const MAX_LATENCY_MS = 60_000;

/** Pairs the caller's speech ends with the agent's onsets. Feed both streams in time order. */
export class HeardLatencyTracker {
  private readonly opts: Required<VoiceActivityOptions>;
  /** The current caller utterance: its voiced time and its last loud sample. */
  private segment?: { voicedMs: number; endAt: number; lastLoudAt: number };
  /** The end of an utterance long enough to count, not yet answered. */
  private pendingEnd?: number;
  private agentEndAt?: number;

  constructor(options: VoiceActivityOptions = {}) {
    this.opts = { ...VOICE_ACTIVITY_DEFAULTS, ...options };
  }

  /** A voiced stretch of the caller's microphone. */
  mic(span: VoicedSpan): void {
    const o = this.opts;
    if (
      o.ignoreMicWhileAgentAudible &&
      this.agentEndAt !== undefined &&
      span.startAt - this.agentEndAt < o.agentSilenceMs
    ) {
      return;
    }
    const seg = this.segment;
    if (!seg || span.startAt - seg.endAt >= o.hangoverMs) {
      this.segment = { voicedMs: span.voicedMs, endAt: span.endAt, lastLoudAt: span.lastLoudAt };
    } else {
      seg.voicedMs += span.voicedMs;
      seg.endAt = span.endAt;
      seg.lastLoudAt = span.lastLoudAt;
    }
    if (this.segment!.voicedMs >= o.minSpeechMs) this.pendingEnd = this.segment!.lastLoudAt;
  }

  /** A voiced stretch of the agent's track; returns the turn it completes, if any. */
  agent(span: VoicedSpan): HeardTurn | undefined {
    const onset =
      this.agentEndAt === undefined || span.startAt - this.agentEndAt >= this.opts.agentSilenceMs;
    this.agentEndAt = Math.max(this.agentEndAt ?? -Infinity, span.endAt);
    const end = this.pendingEnd;
    // audio that started before the caller's speech ended is the agent talking over it (or the
    // caller's echo of it): not an answer
    if (!onset || end === undefined || span.firstLoudAt <= end) return undefined;
    this.pendingEnd = undefined;
    const latencyMs = span.firstLoudAt - end;
    if (latencyMs > MAX_LATENCY_MS) return undefined;
    return { callerSpeechEndAt: end, agentAudioAt: span.firstLoudAt, latencyMs };
  }
}
