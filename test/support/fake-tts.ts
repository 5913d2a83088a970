import { type APIConnectOptions, APIStatusError, tts } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { ensureFrameworkLogger } from './logging.js';
import { abortableSleep } from './timing.js';

ensureFrameworkLogger();

/** What a ttfb function gets to vary the injected delay per request. */
export interface TTSRequestInfo {
  /** 0-based count of synthesis requests made on this TTS (stream segments and chunked calls). */
  index: number;
  /** Text received when the request started (the first chunk for streams). */
  text: string;
}

export interface FakeTTSOptions {
  /** Injected delay between the first text received and the first audio frame. */
  ttfbMs?: number | ((req: TTSRequestInfo) => number);
  /** Audio generated per input character. */
  audioMsPerChar?: number;
  frameMs?: number;
  sampleRate?: number;
  toneHz?: number;
  /** Peak amplitude as a fraction of full scale. */
  amplitude?: number;
  /** Silence at the start of each request's audio (counted in its audio), as real TTS has. */
  leadingSilenceMs?: number;
  /**
   * Makes a request fail with a non-retryable APIStatusError when its first audio would be
   * produced. Sees the text received by then (the full reply when the LLM is faster than ttfb).
   */
  fail?: (text: string, req: TTSRequestInfo) => boolean;
  failStatusCode?: number;
  label?: string;
  provider?: string;
  model?: string;
}

/** Ground truth for one synthesis request. Times are epoch ms. */
export interface TTSRequestRecord {
  index: number;
  requestId: string;
  text: string;
  injectedTtfbMs: number;
  /** When markStarted() ran (first text received). */
  startedAt: number;
  firstFrameAt?: number;
  audioMs: number;
  frames: number;
  failed: boolean;
  done: boolean;
}

const DEFAULTS = {
  ttfbMs: 100,
  audioMsPerChar: 50,
  frameMs: 20,
  sampleRate: 24000,
  toneHz: 220,
  amplitude: 0.05,
  leadingSilenceMs: 0,
  failStatusCode: 500,
};

/**
 * Deterministic streaming TTS: the first frame of each request arrives `ttfbMs` after the first
 * text, then audio (a quiet sine, so it is not silence) is produced faster than real time at
 * `audioMsPerChar` per character, with `final: true` on the segment's last frame as real
 * plugins do. Failures are non-retryable so the framework reports `recoverable: false`.
 */
export class FakeTTS extends tts.TTS {
  label: string;
  readonly requests: TTSRequestRecord[] = [];
  readonly opts: Required<Omit<FakeTTSOptions, 'fail' | 'label' | 'provider' | 'model'>> &
    Pick<FakeTTSOptions, 'fail'>;
  #provider: string;
  #model: string;
  #failNext = 0;

  constructor(options: FakeTTSOptions = {}) {
    const sampleRate = options.sampleRate ?? DEFAULTS.sampleRate;
    super(sampleRate, 1, { streaming: true });
    this.label = options.label ?? 'fake-tts';
    this.#provider = options.provider ?? 'fake-tts-provider';
    this.#model = options.model ?? 'fake-tts-model';
    this.opts = {
      ttfbMs: options.ttfbMs ?? DEFAULTS.ttfbMs,
      audioMsPerChar: options.audioMsPerChar ?? DEFAULTS.audioMsPerChar,
      frameMs: options.frameMs ?? DEFAULTS.frameMs,
      sampleRate,
      toneHz: options.toneHz ?? DEFAULTS.toneHz,
      amplitude: options.amplitude ?? DEFAULTS.amplitude,
      leadingSilenceMs: options.leadingSilenceMs ?? DEFAULTS.leadingSilenceMs,
      failStatusCode: options.failStatusCode ?? DEFAULTS.failStatusCode,
      fail: options.fail,
    };
  }

  override get provider(): string {
    return this.#provider;
  }

  override get model(): string {
    return this.#model;
  }

  /** The next `n` requests fail (in addition to the `fail` predicate). */
  failNext(n = 1): void {
    this.#failNext += n;
  }

  synthesize(
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ): tts.ChunkedStream {
    return new FakeChunkedStream(this, text, connOptions, abortSignal);
  }

  stream(options?: { connOptions?: APIConnectOptions }): tts.SynthesizeStream {
    return new FakeSynthesizeStream(this, options?.connOptions);
  }

  /** @internal */
  _beginRequest(text: string): { record: TTSRequestRecord; shouldFail: (text: string) => boolean } {
    const index = this.requests.length;
    const info: TTSRequestInfo = { index, text };
    const ttfb = this.opts.ttfbMs;
    const forcedFail = this.#failNext > 0;
    if (forcedFail) this.#failNext--;
    const record: TTSRequestRecord = {
      index,
      requestId: `fake-tts-req-${index}`,
      text,
      injectedTtfbMs: typeof ttfb === 'function' ? ttfb(info) : ttfb,
      startedAt: Date.now(),
      audioMs: 0,
      frames: 0,
      failed: false,
      done: false,
    };
    this.requests.push(record);
    const predicate = this.opts.fail;
    return {
      record,
      shouldFail: (t) => forcedFail || (predicate?.(t, { index, text: t }) ?? false),
    };
  }

  /** @internal */
  _makeError(record: TTSRequestRecord): APIStatusError {
    record.failed = true;
    record.done = true;
    return new APIStatusError({
      message: `fake TTS request ${record.requestId} failed`,
      options: {
        statusCode: this.opts.failStatusCode,
        requestId: record.requestId,
        retryable: false,
      },
    });
  }
}

/** Produces sine frames with a continuous phase so consecutive frames join smoothly. */
class ToneGenerator {
  #phase = 0;
  #silent: number;
  constructor(
    private readonly sampleRate: number,
    private readonly hz: number,
    private readonly amplitude: number,
    leadingSilenceMs = 0,
  ) {
    this.#silent = Math.round((leadingSilenceMs * sampleRate) / 1000);
  }

  frame(samples: number): AudioFrame {
    const data = new Int16Array(samples);
    const step = (2 * Math.PI * this.hz) / this.sampleRate;
    const peak = this.amplitude * 32767;
    for (let i = 0; i < samples; i++) {
      if (this.#silent > 0) {
        this.#silent--;
        continue;
      }
      data[i] = Math.round(Math.sin(this.#phase) * peak);
      this.#phase += step;
    }
    this.#phase %= 2 * Math.PI;
    return new AudioFrame(data, this.sampleRate, 1, samples);
  }
}

interface StreamSegment {
  text: string;
  flushed: boolean;
  /** performance.now() and Date.now() when markStarted() ran for this segment. */
  startedPerf: number;
  startedAt: number;
  wake?: () => void;
}

class FakeSynthesizeStream extends tts.SynthesizeStream {
  label: string;
  readonly #tts: FakeTTS;

  constructor(fake: FakeTTS, connOptions?: APIConnectOptions) {
    super(fake, connOptions);
    this.#tts = fake;
    this.label = `${fake.label}.stream`;
  }

  protected async run(): Promise<void> {
    const segments: StreamSegment[] = [];
    let inputDone = false;
    let wakeMain: (() => void) | undefined;
    const signalMain = () => {
      const w = wakeMain;
      wakeMain = undefined;
      w?.();
    };

    // reading input concurrently lets the first frame go out at ttfb while text still streams
    const reader = (async () => {
      let current: StreamSegment | undefined;
      for await (const data of this.input) {
        if (this.abortSignal.aborted) break;
        if (data === FakeSynthesizeStream.FLUSH_SENTINEL) {
          if (current) {
            current.flushed = true;
            current.wake?.();
            current = undefined;
          }
          continue;
        }
        if (!current) {
          current = {
            text: '',
            flushed: false,
            startedPerf: performance.now(),
            startedAt: Date.now(),
          };
          segments.push(current);
          // the TTFB clock starts when text reaches the "provider", like a real plugin's send
          this.markStarted();
          signalMain();
        }
        current.text += data;
        current.wake?.();
      }
      if (current) {
        current.flushed = true;
        current.wake?.();
      }
      inputDone = true;
      signalMain();
    })();

    try {
      let next = 0;
      while (!this.abortSignal.aborted) {
        const seg = segments[next];
        if (!seg) {
          if (inputDone) break;
          await new Promise<void>((resolve) => (wakeMain = resolve));
          continue;
        }
        next++;
        await this.#synthesizeSegment(seg);
      }
    } finally {
      await reader;
    }
  }

  async #synthesizeSegment(seg: StreamSegment): Promise<void> {
    const fake = this.#tts;
    const { record, shouldFail } = fake._beginRequest(seg.text);
    record.startedAt = seg.startedAt;
    await abortableSleep(
      record.injectedTtfbMs - (performance.now() - seg.startedPerf),
      this.abortSignal,
    );
    if (this.abortSignal.aborted) return;
    record.text = seg.text;
    if (shouldFail(seg.text)) throw fake._makeError(record);

    const { frameMs, audioMsPerChar, sampleRate } = fake.opts;
    const tone = new ToneGenerator(
      sampleRate,
      fake.opts.toneHz,
      fake.opts.amplitude,
      fake.opts.leadingSilenceMs,
    );
    const samplesPerFrame = Math.round((sampleRate * frameMs) / 1000);
    let producedSamples = 0;
    // the last frame is held back so it can carry final: true once the segment is flushed
    let pending: AudioFrame | undefined;
    const emit = (frame: AudioFrame, final: boolean) => {
      if (this.abortSignal.aborted) return;
      record.firstFrameAt ??= Date.now();
      record.frames++;
      record.audioMs += (frame.samplesPerChannel / sampleRate) * 1000;
      this.queue.put({
        requestId: record.requestId,
        segmentId: record.requestId,
        frame,
        final,
      });
    };

    while (!this.abortSignal.aborted) {
      const owedSamples = Math.round((seg.text.length * audioMsPerChar * sampleRate) / 1000);
      while (owedSamples - producedSamples >= samplesPerFrame) {
        if (pending) emit(pending, false);
        pending = tone.frame(samplesPerFrame);
        producedSamples += samplesPerFrame;
      }
      if (seg.flushed) {
        const rest = owedSamples - producedSamples;
        if (rest > 0) {
          if (pending) emit(pending, false);
          pending = tone.frame(rest);
          producedSamples += rest;
        }
        if (pending) emit(pending, true);
        break;
      }
      await new Promise<void>((resolve) => (seg.wake = resolve));
      seg.wake = undefined;
    }
    record.text = seg.text;
    record.done = true;
  }
}

class FakeChunkedStream extends tts.ChunkedStream {
  label: string;
  readonly #tts: FakeTTS;

  constructor(
    fake: FakeTTS,
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ) {
    super(text, fake, connOptions, abortSignal);
    this.#tts = fake;
    this.label = `${fake.label}.chunked`;
  }

  protected async run(): Promise<void> {
    const fake = this.#tts;
    const text = this.inputText;
    const { record, shouldFail } = fake._beginRequest(text);
    await abortableSleep(record.injectedTtfbMs, this.abortSignal);
    if (this.abortSignal.aborted) return;
    if (shouldFail(text)) throw fake._makeError(record);
    const { frameMs, audioMsPerChar, sampleRate } = fake.opts;
    const tone = new ToneGenerator(
      sampleRate,
      fake.opts.toneHz,
      fake.opts.amplitude,
      fake.opts.leadingSilenceMs,
    );
    const samplesPerFrame = Math.round((sampleRate * frameMs) / 1000);
    let remaining = Math.round((text.length * audioMsPerChar * sampleRate) / 1000);
    while (remaining > 0 && !this.abortSignal.aborted) {
      const n = Math.min(samplesPerFrame, remaining);
      remaining -= n;
      record.firstFrameAt ??= Date.now();
      record.frames++;
      record.audioMs += (n / sampleRate) * 1000;
      this.queue.put({
        requestId: record.requestId,
        segmentId: record.requestId,
        frame: tone.frame(n),
        final: remaining === 0,
      });
    }
    record.done = true;
  }
}
