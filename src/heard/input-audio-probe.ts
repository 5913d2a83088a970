/**
 * Watches the audio a session RECEIVES, whatever its input (the room's participant, a SIP
 * caller, a custom `AudioInput`), and reports each acoustic end of the user's speech. It puts a
 * pass-through `AudioInput` in front of what is assigned to `session.input.audio`, as the
 * framework's own recorder does (voice/recorder_io/recorder_io.ts, `RecorderAudioInput`): frames
 * go through unchanged and in order, and the detector reads them on the way.
 *
 * Why at assignment: the room's input is assigned inside `start()`, just before the activity
 * attaches it, and a user may assign another one later. So the probe wraps the input present at
 * attach and every input assigned later. In @livekit/agents 1.9 assigning `session.input.audio`
 * after `session.start()` does not reach the running activity (voice/agent_session.ts:773 passes
 * `this.onAudioInputChanged` unbound, so its `this.started` check fails, :1839; and called bound,
 * it fails too: the activity's recognition takes one source, "Stream source already set"). So
 * when attached to a started session, the probe puts its wrapper in place of the input inside
 * the running activity's own input stream (see runningActivity): the activity reads the same
 * audio through the wrapper from then on, and a handoff attaches the wrapper as the input. (An
 * input a user assigns after start stays unread, as it is without the plugin.)
 */
import { voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { ReadableStream, type ReadableStreamDefaultReader } from 'node:stream/web';
import { type VoiceEndOptions, VoiceEndDetector } from './voice-end-detector.js';
import { type InterposedAccessor, interposeAccessor } from '../util/interpose-accessor.js';

/** The source's stream may still be read by the session's previous consumer (a handoff
 * releases it): try again, slower and slower, until the probe closes. */
const ACQUIRE_FIRST_WAIT_MS = 10;
const ACQUIRE_MAX_WAIT_MS = 1_000;

/** What the probe reads of a session. */
interface SessionWithInput {
  input?: object;
  agentState?: unknown;
}

export interface InputAudioProbeOptions extends VoiceEndOptions {
  now: () => number;
  /** The last voiced sample of an utterance arrived at `lastVoicedAt` (agent clock). */
  voiceEnded: (lastVoicedAt: number) => void;
  /** Something failed inside the probe (contained). */
  internalError: (where: string, error: unknown) => void;
}

export class InputAudioProbe {
  private readonly mine = new WeakSet<object>();
  /** The session's `input.audio`, watched. */
  private audio: InterposedAccessor | undefined;
  private closed = false;

  constructor(session: unknown, opts: InputAudioProbeOptions) {
    try {
      const s = session as SessionWithInput;
      if (!s.input) return;
      const wrap = (audio: unknown): unknown => {
        if (this.closed || !(audio instanceof voice.AudioInput) || this.mine.has(audio)) {
          return audio;
        }
        // `x = wrap(x)` (the framework's recorder) keeps feeding the wrapper already in place
        if (this.mine.has(get() as object)) return audio;
        const observed = this.observe(audio, opts);
        this.mine.add(observed);
        return observed;
      };
      const audio = interposeAccessor(s.input, 'audio', (value, assign) =>
        assign(safely(() => wrap(value), value, opts)),
      );
      if (!audio) return;
      this.audio = audio;
      const { get, set } = audio;
      const current: unknown = get();
      if (current instanceof voice.AudioInput && !this.mine.has(current)) {
        if (s.agentState === 'initializing') {
          // start() attaches what is assigned by then
          set(wrap(current));
        } else {
          // a started session reads its input already: put the wrapper in its place there
          const activity = runningActivity(session);
          if (activity) {
            const wrapped = wrap(current) as voice.AudioInput;
            set(wrapped);
            activity.replaceInput(wrapped.stream);
          }
        }
      }
    } catch (error) {
      opts.internalError('input_audio_probe', error);
    }
  }

  /** Stops wrapping new inputs (the one in place keeps passing frames through). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // the session's own accessor takes over again
    this.audio?.restore();
  }

  private observe(source: voice.AudioInput, opts: InputAudioProbeOptions): ObservedAudioInput {
    const detector = new VoiceEndDetector(opts);
    return new ObservedAudioInput(
      source,
      (frame) => {
        if (this.closed) return;
        const end = detector.frame(frame, opts.now());
        if (end !== undefined) opts.voiceEnded(end);
      },
      () => this.closed,
    );
  }
}

/**
 * The running activity of a started session, as @livekit/agents 1.9 has it: it reads the input's
 * stream through a `MultiInputStream` (`audioStream`, the input's id `audioStreamId`), which
 * takes a new input and lets go of an old one. Undefined when the session is not shaped so.
 */
function runningActivity(
  session: unknown,
): { replaceInput(stream: ReadableStream<AudioFrame>): void } | undefined {
  const activity = (session as { activity?: { audioStream?: unknown; audioStreamId?: unknown } })
    .activity;
  const multi = activity?.audioStream as
    { addInputStream?: unknown; removeInputStream?: unknown } | undefined;
  const id = activity?.audioStreamId;
  const add = multi?.addInputStream;
  const remove = multi?.removeInputStream;
  if (typeof add !== 'function' || typeof remove !== 'function' || typeof id !== 'string') {
    return undefined;
  }
  return {
    replaceInput(stream) {
      // a framework that reattaches an input assigned after start has done it already
      if (activity!.audioStream !== multi) return;
      // the wrapper first: if it cannot be added, the activity keeps its input. The wrapper
      // takes the input's reader once the activity lets go of it (it retries after 10 ms);
      // frames wait in the input's stream meanwhile
      activity!.audioStreamId = add.call(multi, stream) as unknown;
      void Promise.resolve(remove.call(multi, id)).catch(() => {});
    },
  };
}

function safely(fn: () => unknown, fallback: unknown, opts: InputAudioProbeOptions): unknown {
  try {
    return fn();
  } catch (error) {
    opts.internalError('input_audio_probe', error);
    return fallback;
  }
}

/** Passes a source input's frames through, showing each to `observe` first. */
class ObservedAudioInput extends voice.AudioInput {
  private broken = false;

  constructor(
    private readonly source: voice.AudioInput,
    observe: (frame: AudioFrame) => void,
    stopped: () => boolean,
  ) {
    super();
    let reader: ReadableStreamDefaultReader<AudioFrame> | undefined;
    const acquire = async () => {
      for (let wait = ACQUIRE_FIRST_WAIT_MS; ; wait = Math.min(wait * 2, ACQUIRE_MAX_WAIT_MS)) {
        try {
          return source.stream.getReader();
        } catch {
          if (stopped() && wait >= ACQUIRE_MAX_WAIT_MS) return undefined;
          await new Promise((resolve) => setTimeout(resolve, wait).unref?.());
        }
      }
    };
    this.multiStream.addInputStream(
      new ReadableStream<AudioFrame>(
        {
          pull: async (controller) => {
            reader ??= await acquire();
            if (!reader) return controller.close();
            const { done, value } = await reader.read();
            if (done) return controller.close();
            if (!this.broken) {
              try {
                observe(value);
              } catch {
                this.broken = true; // the audio flows whatever happens to the measurement
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
