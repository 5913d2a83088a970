/**
 * Watches the audio a session RECEIVES, whatever its input (the room's participant, a SIP
 * caller, a custom `AudioInput`), and reports each acoustic end of the user's speech. It puts a
 * pass-through `AudioInput` in front of `session.input.audio` through the framework's public
 * setter (`AgentInput.audio`, node_modules/@livekit/agents/src/voice/io.ts), as the framework's
 * own recorder does (voice/recorder_io/recorder_io.ts, `RecorderAudioInput`): frames go through
 * unchanged and in order, and the detector reads them on the way.
 *
 * The room's input is only set inside `session.start()`, so the probe looks for an input to wrap
 * now and then (every {@link CHECK_MS}) rather than once.
 */
import { voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { ReadableStream, type ReadableStreamDefaultReader } from 'node:stream/web';
import { type VoiceEndOptions, VoiceEndDetector } from './voice-end-detector.js';

const CHECK_MS = 250;
/** A wrapper that has seen no frame for this long was replaced: the current input is wrapped. */
const IDLE_REWRAP_MS = 5_000;
/** The source's stream is still read by the session's previous consumer for a moment after the
 * swap (its reader is released synchronously on re-attach, but be patient). */
const ACQUIRE_TRIES = 200;
const ACQUIRE_WAIT_MS = 10;

/** What the probe reads of a session: its input, when it has one. */
interface SessionWithInput {
  input?: { audio: voice.AudioInput | null };
}

export interface InputAudioProbeOptions extends VoiceEndOptions {
  now: () => number;
  /** The last voiced sample of an utterance arrived at `lastVoicedAt` (agent clock). */
  voiceEnded: (lastVoicedAt: number) => void;
  /** Something failed inside the probe (contained). */
  internalError: (where: string, error: unknown) => void;
}

export class InputAudioProbe {
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly mine = new WeakSet<object>();
  private readonly wrapped = new WeakSet<object>();
  private current?: ObservedAudioInput;
  private closed = false;

  constructor(
    private readonly session: unknown,
    private readonly opts: InputAudioProbeOptions,
  ) {
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref?.();
    this.check();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private check(): void {
    if (this.closed) return;
    try {
      const input = (this.session as SessionWithInput).input;
      const audio = input?.audio;
      if (!input || !(audio instanceof voice.AudioInput)) return;
      if (this.mine.has(audio) || this.wrapped.has(audio)) return;
      // an input that wraps ours (e.g. the framework's recorder) still feeds us
      const idle = this.current && this.opts.now() - this.current.lastFrameAt > IDLE_REWRAP_MS;
      if (this.current && !idle) return;
      const detector = new VoiceEndDetector(this.opts);
      const observed = new ObservedAudioInput(audio, (frame) => {
        const at = this.opts.now();
        observed.lastFrameAt = at;
        const end = detector.frame(frame, at);
        if (end !== undefined) this.opts.voiceEnded(end);
      });
      this.mine.add(observed);
      this.wrapped.add(audio);
      this.current = observed;
      input.audio = observed;
    } catch (error) {
      this.opts.internalError('input_audio_probe', error);
      this.close();
    }
  }
}

/** Passes a source input's frames through, showing each to `observe` first. */
class ObservedAudioInput extends voice.AudioInput {
  lastFrameAt = Number.NEGATIVE_INFINITY;
  private broken = false;

  constructor(
    private readonly source: voice.AudioInput,
    observe: (frame: AudioFrame) => void,
  ) {
    super();
    let reader: ReadableStreamDefaultReader<AudioFrame> | undefined;
    const acquire = async () => {
      for (let i = 0; ; i++) {
        try {
          return source.stream.getReader();
        } catch (error) {
          if (i >= ACQUIRE_TRIES) throw error;
          await new Promise((resolve) => setTimeout(resolve, ACQUIRE_WAIT_MS));
        }
      }
    };
    this.multiStream.addInputStream(
      new ReadableStream<AudioFrame>(
        {
          pull: async (controller) => {
            reader ??= await acquire();
            const { done, value } = await reader.read();
            if (done) return controller.close();
            if (!this.broken) {
              try {
                observe(value);
              } catch {
                this.broken = true; // the audio must flow whatever happens to the measurement
              }
            }
            controller.enqueue(value);
          },
          cancel: async (reason) => {
            await reader?.cancel(reason);
          },
        },
        { highWaterMark: 0 },
      ),
    );
  }

  // the attach state belongs to the source, which gates its own frames
  override setAttached(attached: boolean): void {
    this.source.setAttached(attached);
  }

  override onAttached(): void {
    this.source.onAttached();
  }

  override onDetached(): void {
    this.source.onDetached();
  }
}
