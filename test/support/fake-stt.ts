/**
 * Why not the framework's `stt.testing.FakeSTT`: its transcripts are scheduled relative to the
 * first frame pushed into the STT stream, which the pipeline pushes at a moment the test does
 * not control, so "user stopped speaking -> final transcript" would not be a known quantity.
 * EnergySTT instead listens to the audio it is given and emits the FINAL_TRANSCRIPT exactly
 * `sttDelayMs` after the last non-silent sample it received, so the transcription delay is the
 * injected ground truth (plus the pipeline's own hand-off latency, which is what we measure).
 */
import { type APIConnectOptions, asLanguageCode, stt } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { DEFAULT_SILENCE_THRESHOLD } from './speech.js';
import { ensureFrameworkLogger } from './logging.js';

ensureFrameworkLogger();

export interface EnergySTTOptions {
  /** Delay from the last non-silent sample received to the FINAL_TRANSCRIPT. */
  sttDelayMs?: number;
  /**
   * Transcript for each detected utterance, in order; a function gets the utterance index.
   * Utterances past the end of the list reuse the last entry.
   */
  transcripts?: string[] | ((index: number) => string);
  /** Absolute int16 amplitude above which a sample counts as speech. */
  silenceThreshold?: number;
  /** Emit one INTERIM_TRANSCRIPT (first word) this long after speech starts; off by default. */
  interimAfterMs?: number;
  label?: string;
  provider?: string;
  model?: string;
}

/** Ground truth for one utterance as the STT saw it. Times are epoch ms. */
export interface SttUtterance {
  index: number;
  transcript: string;
  /** Receipt time of the first non-silent sample. */
  speechStartedAt: number;
  /** Receipt time of the last non-silent sample. */
  speechEndedAt: number;
  /** When the FINAL_TRANSCRIPT was queued. */
  finalAt?: number;
}

export class EnergySTT extends stt.STT {
  label: string;
  readonly sttDelayMs: number;
  readonly utterances: SttUtterance[] = [];
  readonly threshold: number;
  readonly interimAfterMs?: number;
  #transcripts: string[] | ((index: number) => string);
  #provider: string;
  #model: string;

  constructor(options: EnergySTTOptions = {}) {
    super({ streaming: true, interimResults: options.interimAfterMs !== undefined });
    this.label = options.label ?? 'energy-stt';
    this.sttDelayMs = options.sttDelayMs ?? 300;
    this.threshold = options.silenceThreshold ?? DEFAULT_SILENCE_THRESHOLD;
    this.interimAfterMs = options.interimAfterMs;
    this.#transcripts = options.transcripts ?? ['hello'];
    this.#provider = options.provider ?? 'fake-stt-provider';
    this.#model = options.model ?? 'energy-stt-model';
  }

  override get provider(): string {
    return this.#provider;
  }

  override get model(): string {
    return this.#model;
  }

  /** @internal */
  _transcriptFor(index: number): string {
    const t = this.#transcripts;
    if (typeof t === 'function') return t(index);
    return t[Math.min(index, t.length - 1)] ?? '';
  }

  protected async _recognize(): Promise<stt.SpeechEvent> {
    throw new Error('EnergySTT only supports streaming');
  }

  stream(options?: { connOptions?: APIConnectOptions }): stt.SpeechStream {
    return new EnergySpeechStream(this, options?.connOptions);
  }
}

class EnergySpeechStream extends stt.SpeechStream {
  label: string;
  readonly #stt: EnergySTT;
  #firstFrameAt?: number;
  #current?: SttUtterance;
  #finalTimer?: NodeJS.Timeout;
  #interimTimer?: NodeJS.Timeout;
  #audioMsSinceUsage = 0;
  #requestCount = 0;
  #pendingDone?: () => void;

  constructor(energy: EnergySTT, connOptions?: APIConnectOptions) {
    super(energy, 16000, connOptions);
    this.#stt = energy;
    this.label = `${energy.label}.stream`;
  }

  protected async run(): Promise<void> {
    try {
      for await (const data of this.input) {
        if (this.abortSignal.aborted) break;
        if (data === EnergySpeechStream.FLUSH_SENTINEL) continue;
        this.#onFrame(data);
      }
      // a provider finalizes what it heard when the input ends; keep the same delay
      if (this.#current && !this.abortSignal.aborted) {
        await new Promise<void>((resolve) => (this.#pendingDone = resolve));
      }
    } finally {
      this.#clearTimers();
    }
  }

  #onFrame(frame: AudioFrame): void {
    const now = Date.now();
    const n = frame.samplesPerChannel * frame.channels;
    const msPerSample = 1000 / frame.sampleRate / frame.channels;
    this.#firstFrameAt ??= now - n * msPerSample;
    this.#audioMsSinceUsage += (frame.samplesPerChannel / frame.sampleRate) * 1000;
    const th = this.#stt.threshold;
    let first = -1;
    let last = -1;
    for (let i = 0; i < n; i++) {
      const v = frame.data[i]!;
      if (v > th || v < -th) {
        if (first < 0) first = i;
        last = i;
      }
    }
    if (last < 0) return;

    const startedAt = now - (n - 1 - first) * msPerSample;
    const endedAt = now - (n - 1 - last) * msPerSample;
    if (!this.#current) {
      const index = this.#stt.utterances.length;
      this.#current = {
        index,
        transcript: this.#stt._transcriptFor(index),
        speechStartedAt: startedAt,
        speechEndedAt: endedAt,
      };
      this.#stt.utterances.push(this.#current);
      this.#put(stt.SpeechEventType.START_OF_SPEECH);
      const interimAfter = this.#stt.interimAfterMs;
      if (interimAfter !== undefined) {
        const utterance = this.#current;
        this.#interimTimer = setTimeout(() => {
          this.#interimTimer = undefined;
          if (this.#current !== utterance) return;
          const firstWord = utterance.transcript.split(/\s+/)[0] ?? '';
          this.#put(stt.SpeechEventType.INTERIM_TRANSCRIPT, firstWord, utterance);
        }, interimAfter);
      }
    }
    this.#current.speechEndedAt = endedAt;
    if (this.#finalTimer) clearTimeout(this.#finalTimer);
    // re-armed on every voiced frame, so pauses shorter than sttDelayMs stay in one utterance
    this.#finalTimer = setTimeout(
      () => this.#finalize(),
      Math.max(0, endedAt + this.#stt.sttDelayMs - Date.now()),
    );
  }

  #finalize(): void {
    this.#finalTimer = undefined;
    const utterance = this.#current;
    if (!utterance) return;
    this.#current = undefined;
    if (this.#interimTimer) {
      clearTimeout(this.#interimTimer);
      this.#interimTimer = undefined;
    }
    utterance.finalAt = Date.now();
    this.#put(stt.SpeechEventType.FINAL_TRANSCRIPT, utterance.transcript, utterance);
    this.#put(stt.SpeechEventType.END_OF_SPEECH, utterance.transcript, utterance);
    this.#put(stt.SpeechEventType.RECOGNITION_USAGE);
    const done = this.#pendingDone;
    this.#pendingDone = undefined;
    done?.();
  }

  #put(type: stt.SpeechEventType, text?: string, utterance?: SttUtterance): void {
    if (this.abortSignal.aborted || this.closed) return;
    const requestId = `fake-stt-req-${this.#requestCount}`;
    let ev: stt.SpeechEvent;
    if (type === stt.SpeechEventType.RECOGNITION_USAGE) {
      ev = {
        type,
        requestId,
        recognitionUsage: { audioDuration: this.#audioMsSinceUsage / 1000 },
      };
      this.#audioMsSinceUsage = 0;
      this.#requestCount++;
    } else if (text !== undefined && utterance) {
      const origin = this.#firstFrameAt ?? utterance.speechStartedAt;
      ev = {
        type,
        requestId,
        alternatives: [
          {
            text,
            language: asLanguageCode('en'),
            // provider convention: seconds relative to the start of the stream's audio
            startTime: (utterance.speechStartedAt - origin) / 1000 + this.startTimeOffset,
            endTime: (utterance.speechEndedAt - origin) / 1000 + this.startTimeOffset,
            confidence: 0.95,
          },
        ],
      };
    } else {
      ev = { type, requestId };
    }
    try {
      this.queue.put(ev);
    } catch {
      // stream closed between the check and the put
    }
  }

  #clearTimers(): void {
    if (this.#finalTimer) clearTimeout(this.#finalTimer);
    if (this.#interimTimer) clearTimeout(this.#interimTimer);
    this.#finalTimer = undefined;
    this.#interimTimer = undefined;
    const done = this.#pendingDone;
    this.#pendingDone = undefined;
    done?.();
  }
}
