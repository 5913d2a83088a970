import { voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { ReadableStream, type ReadableStreamDefaultController } from 'node:stream/web';
import {
  DEFAULT_SILENCE_THRESHOLD,
  SPEECH_SAMPLE_RATE,
  type Speech,
  loadSpeechWav,
  pcmBounds,
} from './speech.js';
import { ensureFrameworkLogger } from './logging.js';

ensureFrameworkLogger();

export interface ScriptedAudioInputOptions {
  /** Duration of each pushed frame; real microphones deliver 10 or 20 ms frames. */
  frameMs?: 10 | 20;
  /** Amplitude above which a sample counts as speech for the ground-truth timestamps. */
  silenceThreshold?: number;
}

/** Wall-clock ground truth for one `play*` call. All times are epoch ms (Date.now()). */
export interface PlayResult {
  /** Delivery time of the clip's first sample. */
  startedAt: number;
  /** Delivery time of the clip's last sample (its frame was pushed up to one frame later). */
  endedAt: number;
  durationMs: number;
  /** When the first non-silent sample was delivered; undefined for silent clips. */
  speechStartedAt?: number;
  /** When the last non-silent sample was delivered ("user stopped speaking"). */
  speechEndedAt?: number;
}

interface PendingClip {
  pcm: Int16Array;
  offset: number;
  firstIndex: number;
  lastIndex: number;
  startedAt?: number;
  endedAt?: number;
  speechStartedAt?: number;
  speechEndedAt?: number;
  resolve: (r: PlayResult) => void;
}

/**
 * Microphone double: a real-time clock pushes a 16 kHz mono frame every `frameMs`, taking
 * samples from queued clips and padding with silence otherwise. Silence keeps flowing between
 * clips because a VAD only reports end of speech after it has *heard* trailing silence.
 *
 * A frame is pushed once its last sample would have been captured (frame k at t0 + (k+1) *
 * frameMs), so a sample's delivery time is the push time minus its distance to the frame end.
 */
export class ScriptedAudioInput extends voice.AudioInput {
  readonly sampleRate = SPEECH_SAMPLE_RATE;
  readonly frameMs: 10 | 20;
  readonly results: PlayResult[] = [];
  /** Delivery time of the most recent non-silent sample, across all clips. */
  lastSpeechEndedAt?: number;

  readonly #threshold: number;
  readonly #samplesPerFrame: number;
  readonly #queue: PendingClip[] = [];
  #controller!: ReadableStreamDefaultController<AudioFrame>;
  #clockStart?: number;
  #framesPushed = 0;
  #timer?: NodeJS.Timeout;
  #closed = false;

  constructor(options: ScriptedAudioInputOptions = {}) {
    super();
    this.frameMs = options.frameMs ?? 10;
    this.#threshold = options.silenceThreshold ?? DEFAULT_SILENCE_THRESHOLD;
    this.#samplesPerFrame = (this.sampleRate * this.frameMs) / 1000;
    this.multiStream.addInputStream(
      new ReadableStream<AudioFrame>({
        start: (controller) => {
          this.#controller = controller;
        },
      }),
    );
  }

  get started(): boolean {
    return this.#clockStart !== undefined;
  }

  /** Starts the microphone clock (silence until a clip is queued). Idempotent. */
  start(): void {
    if (this.#clockStart !== undefined || this.#closed) return;
    this.#clockStart = performance.now();
    this.#schedule();
  }

  playSilence(ms: number): Promise<PlayResult> {
    return this.playPcm(new Int16Array(Math.round((ms * this.sampleRate) / 1000)), this.sampleRate);
  }

  playPcm(pcm: Int16Array, sampleRate: number = this.sampleRate): Promise<PlayResult> {
    if (this.#closed) return Promise.reject(new Error('ScriptedAudioInput is closed'));
    const samples =
      sampleRate === this.sampleRate ? pcm : resampleLinear(pcm, sampleRate, this.sampleRate);
    const { firstIndex, lastIndex } = pcmBounds(samples, this.#threshold);
    const result = new Promise<PlayResult>((resolve) => {
      this.#queue.push({ pcm: samples, offset: 0, firstIndex, lastIndex, resolve });
    });
    this.start();
    return result;
  }

  async playSpeech(speech: Speech | string): Promise<PlayResult> {
    const s = typeof speech === 'string' ? await loadSpeechWav(speech) : speech;
    return this.playPcm(s.pcm, s.sampleRate);
  }

  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.#controller.close();
    } catch {
      // already closed by a cancelled reader
    }
    await super.close();
  }

  #schedule(): void {
    if (this.#closed || this.#clockStart === undefined) return;
    const nextDue = this.#clockStart + (this.#framesPushed + 1) * this.frameMs;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, nextDue - performance.now()));
  }

  #tick(): void {
    if (this.#closed || this.#clockStart === undefined) return;
    // push every frame whose capture window has elapsed, catching up after event-loop stalls
    const due = Math.floor((performance.now() - this.#clockStart) / this.frameMs);
    while (this.#framesPushed < due && !this.#closed) {
      this.#pushFrame();
    }
    this.#schedule();
  }

  #pushFrame(): void {
    const n = this.#samplesPerFrame;
    const data = new Int16Array(n);
    const now = Date.now();
    const msPerSample = 1000 / this.sampleRate;
    const completed: PendingClip[] = [];
    let filled = 0;
    while (filled < n && this.#queue.length > 0) {
      const clip = this.#queue[0]!;
      const take = Math.min(n - filled, clip.pcm.length - clip.offset);
      data.set(clip.pcm.subarray(clip.offset, clip.offset + take), filled);
      // a sample at frame position p was captured (n - 1 - p) samples before the frame ended
      const deliveredAt = (clipIndex: number) =>
        now - (n - 1 - (filled + clipIndex - clip.offset)) * msPerSample;
      if (clip.offset === 0) clip.startedAt = deliveredAt(0);
      if (clip.firstIndex >= clip.offset && clip.firstIndex < clip.offset + take) {
        clip.speechStartedAt = deliveredAt(clip.firstIndex);
      }
      if (clip.lastIndex >= clip.offset && clip.lastIndex < clip.offset + take) {
        clip.speechEndedAt = deliveredAt(clip.lastIndex);
      }
      clip.offset += take;
      filled += take;
      if (clip.offset >= clip.pcm.length) {
        clip.endedAt = deliveredAt(clip.pcm.length - 1);
        this.#queue.shift();
        completed.push(clip);
      }
    }
    this.#framesPushed++;
    try {
      this.#controller.enqueue(new AudioFrame(data, this.sampleRate, 1, n));
    } catch {
      // the session stopped reading (closed); keep the clock consistent and drop the frame
    }
    for (const clip of completed) {
      if (clip.speechEndedAt !== undefined) this.lastSpeechEndedAt = clip.speechEndedAt;
      const result: PlayResult = {
        startedAt: clip.startedAt ?? now,
        endedAt: clip.endedAt ?? now,
        durationMs: (clip.pcm.length / this.sampleRate) * 1000,
        speechStartedAt: clip.speechStartedAt,
        speechEndedAt: clip.speechEndedAt,
      };
      this.results.push(result);
      clip.resolve(result);
    }
  }
}

function resampleLinear(pcm: Int16Array, from: number, to: number): Int16Array {
  const out = new Int16Array(Math.round((pcm.length * to) / from));
  const ratio = from / to;
  for (let i = 0; i < out.length; i++) {
    const pos = i * ratio;
    const i0 = Math.floor(pos);
    const a = pcm[i0] ?? 0;
    const b = pcm[i0 + 1] ?? a;
    out[i] = Math.round(a + (b - a) * (pos - i0));
  }
  return out;
}

export interface RecordingAudioOutputOptions {
  /**
   * Sample rate the sink accepts; the framework resamples TTS audio to it. Undefined accepts
   * whatever the TTS produces.
   */
  sampleRate?: number;
  /**
   * How far ahead of the playhead captureFrame accepts audio before it blocks, like the
   * bounded queue in front of a real audio device.
   */
  bufferMs?: number;
}

/** Ground truth for one playback segment. All times are epoch ms. */
export interface PlayoutSegment {
  index: number;
  /** When the first frame started playing: what the sink reports as playback started. */
  startedAt: number;
  /** When the first frame was handed to captureFrame. */
  firstFrameCapturedAt: number;
  capturedMs: number;
  finishedAt?: number;
  interrupted?: boolean;
  /** How much of the segment was heard, in ms. */
  playbackPositionMs?: number;
}

interface SegmentWaiter {
  index: number;
  kind: 'start' | 'end';
  resolve: (s: PlayoutSegment) => void;
}

interface ActiveSegment {
  record: PlayoutSegment;
  flushed: boolean;
  /** Set once onPlaybackFinished was reported; later frames of it are dropped. */
  finished: boolean;
  startTimer?: NodeJS.Timeout;
  finishTimer?: NodeJS.Timeout;
}

/**
 * Speaker double with real-time playout: a frame of N ms occupies N ms of a virtual playhead.
 * Playback started is reported when a segment's first frame starts playing, playback finished
 * when the playhead drains after flush(), or immediately with the heard position on
 * clearBuffer(). A segment is the audio between captureFrame and flush/clearBuffer, matching
 * the base class's counting.
 */
export class RecordingAudioOutput extends voice.AudioOutput {
  readonly segments: PlayoutSegment[] = [];
  readonly #bufferMs: number;
  #current?: ActiveSegment;
  /** Epoch ms at which everything captured so far has finished playing. */
  #playheadEnd = 0;
  #wakeCapture?: () => void;
  #segmentWaiters: SegmentWaiter[] = [];

  constructor(options: RecordingAudioOutputOptions = {}) {
    super(options.sampleRate);
    this.#bufferMs = options.bufferMs ?? 200;
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    const segmentsBefore = this.capturedPlayoutSegments;
    await super.captureFrame(frame);
    const now = Date.now();
    if (this.capturedPlayoutSegments !== segmentsBefore) {
      this.#beginSegment(now);
    }
    const seg = this.#current;
    // frames captured after clearBuffer but before the matching flush belong to a dead segment
    if (!seg || seg.finished) return;

    const frameMs = (frame.samplesPerChannel / frame.sampleRate) * 1000;
    this.#playheadEnd = Math.max(this.#playheadEnd, now) + frameMs;
    seg.record.capturedMs += frameMs;

    while (!seg.finished && this.#playheadEnd - Date.now() > this.#bufferMs) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.#playheadEnd - this.#bufferMs - Date.now());
        this.#wakeCapture = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wakeCapture = undefined;
    }
  }

  override flush(): void {
    super.flush();
    const seg = this.#current;
    if (!seg || seg.finished || seg.flushed) return;
    seg.flushed = true;
    const delay = Math.max(0, this.#playheadEnd - Date.now());
    seg.finishTimer = setTimeout(() => {
      this.#finish(seg, false, seg.record.capturedMs);
    }, delay);
  }

  clearBuffer(): void {
    const seg = this.#current;
    if (!seg || seg.finished) return;
    const now = Date.now();
    const queuedMs = Math.max(0, this.#playheadEnd - now);
    const heardMs = seg.record.startedAt > now ? 0 : Math.max(0, seg.record.capturedMs - queuedMs);
    this.#playheadEnd = now;
    this.#finish(seg, true, heardMs);
    this.#wakeCapture?.();
  }

  /** Resolves when segment `index` (0-based) starts playing, or is cleared before it could. */
  waitForSegmentStart(index: number): Promise<PlayoutSegment> {
    return this.#waitFor(index, 'start');
  }

  /** Resolves when segment `index` (0-based) has finished or was interrupted. */
  waitForSegmentEnd(index: number): Promise<PlayoutSegment> {
    return this.#waitFor(index, 'end');
  }

  /** Stops pending timers so a closed session leaves no handles behind. */
  close(): void {
    const seg = this.#current;
    if (seg && !seg.finished) this.clearBuffer();
  }

  #beginSegment(now: number): void {
    const startsAt = Math.max(now, this.#playheadEnd);
    const seg: ActiveSegment = {
      record: {
        index: this.segments.length,
        startedAt: startsAt,
        firstFrameCapturedAt: now,
        capturedMs: 0,
      },
      flushed: false,
      finished: false,
    };
    this.#current = seg;
    this.segments.push(seg.record);
    const announce = () => {
      seg.startTimer = undefined;
      if (seg.finished) return;
      this.onPlaybackStarted(seg.record.startedAt);
      this.#notify(seg.record, 'start');
    };
    if (startsAt > now) {
      // the previous segment's audio is still playing; this one is heard only after it
      seg.startTimer = setTimeout(announce, startsAt - now);
    } else {
      announce();
    }
  }

  #finish(seg: ActiveSegment, interrupted: boolean, heardMs: number): void {
    if (seg.finished) return;
    seg.finished = true;
    if (seg.finishTimer) clearTimeout(seg.finishTimer);
    if (seg.startTimer) {
      clearTimeout(seg.startTimer);
      seg.startTimer = undefined;
    }
    seg.record.finishedAt = Date.now();
    seg.record.interrupted = interrupted;
    seg.record.playbackPositionMs = heardMs;
    this.onPlaybackFinished({ playbackPosition: heardMs / 1000, interrupted });
    // a segment cleared before it was heard never starts; release its start waiters too
    this.#notify(seg.record, 'start');
    this.#notify(seg.record, 'end');
  }

  #waitFor(index: number, kind: 'start' | 'end'): Promise<PlayoutSegment> {
    const rec = this.segments[index];
    const current = this.#current;
    if (
      rec &&
      (kind === 'end' ? rec.finishedAt !== undefined : !this.#isPendingStart(rec, current))
    ) {
      return Promise.resolve(rec);
    }
    return new Promise((resolve) => this.#segmentWaiters.push({ index, kind, resolve }));
  }

  #isPendingStart(rec: PlayoutSegment, current: ActiveSegment | undefined): boolean {
    return current?.record === rec && current.startTimer !== undefined;
  }

  #notify(rec: PlayoutSegment, kind: 'start' | 'end'): void {
    const remaining: SegmentWaiter[] = [];
    for (const w of this.#segmentWaiters) {
      if (w.index === rec.index && w.kind === kind) w.resolve(rec);
      else remaining.push(w);
    }
    this.#segmentWaiters = remaining;
  }
}
