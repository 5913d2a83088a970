/**
 * The audio a session RECEIVES, shown frame by frame to an observer (the input probe,
 * src/heard/input-audio-probe.ts), whatever its input (the room's participant, a SIP caller, a
 * custom `AudioInput`). Reaches `input_audio_accessor`, `audio_input_multi_stream` and
 * `activity_input_stream` (src/framework/reaches.ts), verified on @livekit/agents 1.9.0.
 *
 * How: a pass-through `AudioInput` (ObservedAudioInput) in front of the session's input, as the
 * framework's own recorder does (voice/recorder_io/recorder_io.ts, `RecorderAudioInput`): frames
 * go through unchanged and in order. The input present at attach is wrapped, and every input
 * assigned later (the room's is assigned inside `start()`).
 *
 * A started session already reads its input: in @livekit/agents 1.9 assigning
 * `session.input.audio` after `start()` does not reach the running activity
 * (voice/agent_session.ts:773 passes `this.onAudioInputChanged` unbound, so its `this.started`
 * check fails, :1839). So the wrapper takes the input's place inside the running activity's own
 * input stream (activity_input_stream), and gives it back on close.
 *
 * Never stacks: on close the session's input gets its own path back (the input itself, read by
 * the activity directly). Where that cannot be done safely (another wrapper, such as the
 * recorder's, encloses ours; the activity is not the shape verified), the wrapper stays as one
 * pass-through layer without an observer, and the next tap on the session observes through it
 * instead of wrapping again.
 */
import { voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { ReadableStream, type ReadableStreamDefaultReader } from 'node:stream/web';
import { type FrameworkContext, read, turnOff, typeName } from './context.js';
import { type InterposedAccessor, interposeAccessor } from './io-accessor.js';

/** The source's stream may still be read by the session's previous consumer (the activity lets
 * go of it asynchronously): try again, slower and slower, until released. */
const ACQUIRE_FIRST_WAIT_MS = 10;
const ACQUIRE_MAX_WAIT_MS = 1_000;

/** Marks a wrapper made by any copy of the plugin (the ESM and CJS builds share the symbol). */
const BRAND = Symbol.for('livekit-agents-metrics.observed-audio-input');
/** On a session's AgentInput: the wrapper left in place there (see the module comment). */
const LEFT_IN_PLACE = Symbol.for('livekit-agents-metrics.input-left-in-place');

export type FrameObserver = (frame: AudioFrame) => void;

/** Passes a source input's frames through, showing each to its observers first. */
export class ObservedAudioInput extends voice.AudioInput {
  readonly [BRAND] = true;
  readonly observers = new Set<FrameObserver>();
  private reader: ReadableStreamDefaultReader<AudioFrame> | undefined;
  private released = false;

  /** Throws when AudioInput has no `multiStream` to feed (the caller turns the feature off). */
  constructor(
    readonly source: voice.AudioInput,
    /** An observer threw: it is removed; the frame and the ones after it pass on. */
    private readonly observerThrew: (observer: FrameObserver, error: unknown) => void,
  ) {
    super();
    const multi = this.multiStream as unknown;
    if (typeof read(multi, 'addInputStream') !== 'function') {
      throw new ShapeError(
        `AudioInput.multiStream.addInputStream is ${typeName(read(multi, 'addInputStream'))}`,
      );
    }
    this.multiStream.addInputStream(
      new ReadableStream<AudioFrame>(
        {
          pull: async (controller) => {
            this.reader ??= await this.acquire();
            if (!this.reader) return controller.close();
            let next: Awaited<ReturnType<ReadableStreamDefaultReader<AudioFrame>['read']>>;
            try {
              next = await this.reader.read();
            } catch {
              // released: the source is read directly again
              return controller.close();
            }
            if (next.done) return controller.close();
            for (const observer of this.observers) {
              try {
                observer(next.value);
              } catch (error) {
                this.observers.delete(observer);
                this.observerThrew(observer, error);
              }
            }
            controller.enqueue(next.value);
          },
          cancel: async (reason) => {
            await this.reader?.cancel(reason);
          },
        },
        { highWaterMark: 0 },
      ),
    );
  }

  /** Whether the source is still read through this wrapper. */
  get isReleased(): boolean {
    return this.released;
  }

  /**
   * Lets go of the source's stream (a read waiting for a frame is cancelled, the frame stays in
   * the source), so the source can be read directly again; the wrapper's own stream then ends.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.observers.clear();
    const reader = this.reader;
    this.reader = undefined;
    try {
      reader?.releaseLock();
    } catch {
      // already released
    }
  }

  private async acquire(): Promise<ReadableStreamDefaultReader<AudioFrame> | undefined> {
    for (let wait = ACQUIRE_FIRST_WAIT_MS; ; wait = Math.min(wait * 2, ACQUIRE_MAX_WAIT_MS)) {
      if (this.released) return undefined;
      try {
        return this.source.stream.getReader();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, wait).unref?.());
      }
    }
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

/** A wrapper made by this plugin (any copy of it). */
export function isObservedInput(x: unknown): x is ObservedAudioInput {
  return read(x, BRAND) === true && x instanceof voice.AudioInput;
}

/** The pass-through layers of this plugin in front of `input` (0 or 1 unless something is
 * wrong): for tests and health, by structure. */
export function observedLayers(input: unknown): number {
  let layers = 0;
  for (let x = input; isObservedInput(x) && layers < 1_000; x = x.source) layers++;
  return layers;
}

class ShapeError extends Error {}

/** The running activity's input stream, as @livekit/agents 1.9 has it. */
interface ActivityInput {
  /** Feeds `stream` to the activity instead of its current input (which it lets go of). */
  replace(stream: ReadableStream<AudioFrame>, releaseOld: boolean): void;
  /** The activity's current input stream object (to see whether the framework replaced it). */
  readonly multi: object;
  readonly activity: Record<string, unknown>;
}

/**
 * Reach `activity_input_stream`: `'none'` when the session runs no activity now (before start,
 * after close, between two agents), the activity's input stream when it has the shape verified,
 * else why not.
 */
export function activityInput(session: unknown): ActivityInput | 'none' | string {
  const activity = '_activity' in Object(session) ? read(session, '_activity') : undefined;
  const field = activity ?? read(session, 'activity');
  if (field === undefined) {
    return Object.hasOwn(Object(session), 'activity') || '_activity' in Object(session)
      ? 'none'
      : 'session has no activity field';
  }
  if (typeof field !== 'object' || field === null) return `session activity is ${typeName(field)}`;
  const a = field as Record<string, unknown>;
  const multi = read(a, 'audioStream');
  const add = read(multi, 'addInputStream');
  const remove = read(multi, 'removeInputStream');
  const id = read(a, 'audioStreamId');
  if (typeof add !== 'function' || typeof remove !== 'function') {
    return `activity.audioStream is not a MultiInputStream (${typeName(multi)})`;
  }
  if (typeof id !== 'string') return `activity.audioStreamId is ${typeName(id)}`;
  const input: ActivityInput = {
    multi: multi as object,
    activity: a,
    replace(stream, releaseOld) {
      // the new input first: if it cannot be added, the activity keeps its input
      a.audioStreamId = add.call(multi, stream) as unknown;
      // the old one is let go of now (its reader released: a waiting read is cancelled, no frame
      // lost), or left to end by itself (a wrapper's stream ends once released, after the frames
      // already in it)
      if (releaseOld) void Promise.resolve(remove.call(multi, id)).catch(() => {});
    },
  };
  return input;
}

function isStarted(session: unknown): boolean {
  return read(session, 'agentState') !== 'initializing';
}

/**
 * Shows `observe` every frame the session receives, until {@link close}. On a shape it does not
 * know it changes nothing and turns `acoustic_speech_end` off (through `ctx`).
 */
export class InputAudioTap {
  private accessor: InterposedAccessor | undefined;
  private input: object | undefined;
  /** Wrappers this tap observes through (made by it or found in place). */
  private readonly wrappers = new Set<ObservedAudioInput>();
  private closed = false;

  constructor(
    private readonly session: unknown,
    private readonly ctx: FrameworkContext,
    private readonly observe: FrameObserver,
  ) {
    ctx.guard.run('framework', 'input_audio:attach', () => this.attach());
  }

  /** Whether frames are observed (the input is wrapped, or will be when assigned). */
  get active(): boolean {
    return !this.closed && this.accessor !== undefined;
  }

  private attach(): void {
    const input = read(this.session, 'input');
    if (typeof input !== 'object' || input === null) {
      return this.off('input_audio_accessor', `session.input is ${typeName(input)}`);
    }
    const current = read(input, 'audio');
    // decide before changing anything: a started session must have the activity verified
    const activity = isStarted(this.session) ? activityInput(this.session) : 'none';
    const left = read(input, LEFT_IN_PLACE);
    const reuse = isObservedInput(current)
      ? current
      : isObservedInput(left) && !left.isReleased
        ? left
        : undefined;
    if (
      !reuse &&
      current instanceof voice.AudioInput &&
      typeof activity === 'string' &&
      activity !== 'none'
    ) {
      return this.off('activity_input_stream', activity);
    }
    const accessor = interposeAccessor(input, 'audio', (value, assign) =>
      assign(
        this.ctx.guard.call('plugin', 'input_audio:assign', () => this.onAssign(value)) ?? value,
      ),
    );
    if (typeof accessor === 'string') {
      return this.off('input_audio_accessor', `AgentInput.audio: ${accessor}`);
    }
    this.accessor = accessor;
    this.input = input;
    if (reuse) {
      // the wrapper of an earlier attach is still in the path: observe through it
      this.observeThrough(reuse);
      return;
    }
    if (!(current instanceof voice.AudioInput)) return; // wrapped when one is assigned
    const wrapped = this.wrap(current);
    if (!wrapped) return;
    if (typeof activity === 'object') {
      // the activity reads the source already: it reads the wrapper from now on (which takes the
      // source's reader once the activity lets go of it; frames wait in the source meanwhile)
      accessor.set(wrapped);
      if (!this.swapIn(activity, wrapped)) accessor.set(current);
    } else {
      // not started, or no activity now: start() (or the next agent) attaches what is assigned
      accessor.set(wrapped);
    }
  }

  /** What the session's input setter assigns instead of `value`. */
  private onAssign(value: unknown): unknown {
    if (this.closed || !(value instanceof voice.AudioInput) || isObservedInput(value)) return value;
    // `x = wrap(x)` (the framework's recorder) keeps feeding the wrapper already in place
    const current = this.accessor?.get();
    if (isObservedInput(current) && this.wrappers.has(current)) return value;
    return this.wrap(value) ?? value;
  }

  private wrap(source: voice.AudioInput): ObservedAudioInput | undefined {
    let wrapped: ObservedAudioInput;
    try {
      wrapped = new ObservedAudioInput(source, (_observer, error) => {
        // the frames flow on; the observer is removed and the feature shows as off
        this.ctx.guard.fail(
          { source: 'plugin', reason: 'threw', where: 'input_audio:observe' },
          error,
        );
        this.ctx.guard.run('plugin', 'feature_disabled', () =>
          this.ctx.featureDisabled('acoustic_speech_end', 'the input observer threw'),
        );
      });
    } catch (error) {
      if (error instanceof ShapeError) this.off('audio_input_multi_stream', error.message);
      else
        this.ctx.guard.fail(
          { source: 'framework', reason: 'threw', where: 'input_audio:wrap' },
          error,
        );
      return undefined;
    }
    this.observeThrough(wrapped);
    return wrapped;
  }

  private observeThrough(wrapper: ObservedAudioInput): void {
    wrapper.observers.add(this.observe);
    this.wrappers.add(wrapper);
  }

  /** Puts `wrapped` in place of its source inside the running activity; false if it threw. */
  private swapIn(activity: ActivityInput, wrapped: ObservedAudioInput): boolean {
    const ok = this.ctx.guard.run('framework', 'input_audio:activity', () => {
      // a framework that reattaches an input assigned after start has done it already
      if (read(activity.activity, 'audioStream') !== activity.multi) return;
      activity.replace(wrapped.stream, true);
    });
    if (!ok) {
      this.wrappers.delete(wrapped);
      wrapped.release();
      this.off('activity_input_stream', 'the activity refused the wrapper (it threw)');
    }
    return ok;
  }

  /** Stops observing; the session's input gets its own path back. Idempotent, never throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.guard.run('framework', 'input_audio:close', () => {
      this.accessor?.restore();
      for (const wrapper of this.wrappers) {
        wrapper.observers.delete(this.observe);
        if (wrapper.observers.size === 0) this.unwrap(wrapper);
      }
      this.wrappers.clear();
    });
  }

  /** Takes a wrapper nobody observes through out of the path, or leaves it as the one layer. */
  private unwrap(wrapper: ObservedAudioInput): void {
    const input = this.input!;
    const current = read(input, 'audio');
    if (current !== wrapper) {
      // something reads it (another wrapper over it, such as the recorder's): it stays, and the
      // next tap on this session observes through it; else nothing needs it any more
      if (wrapper.stream.locked) leaveInPlace(input, wrapper);
      else dispose(wrapper);
      return;
    }
    const activity = activityInput(this.session);
    if (typeof activity === 'string' && activity !== 'none') {
      // the activity reads the wrapper and cannot be given the source: one pass-through layer
      leaveInPlace(input, wrapper);
      return;
    }
    wrapper.release();
    // the session's own setter: a framework that reattaches the input does it now
    Reflect.set(input, 'audio', wrapper.source);
    if (typeof activity === 'object' && read(activity.activity, 'audioStream') === activity.multi) {
      // the source to the activity; the wrapper's stream ends after the frames already in it
      activity.replace(wrapper.source.stream, false);
    }
    void wrapper.close().catch(() => {});
    if (read(input, LEFT_IN_PLACE) === wrapper) Reflect.deleteProperty(input, LEFT_IN_PLACE);
  }

  private off(reach: Parameters<typeof turnOff>[1], why: string): void {
    turnOff(this.ctx, reach, why);
  }
}

function leaveInPlace(input: object, wrapper: ObservedAudioInput): void {
  Object.defineProperty(input, LEFT_IN_PLACE, {
    configurable: true,
    enumerable: false,
    writable: true,
    value: wrapper,
  });
}

function dispose(wrapper: ObservedAudioInput): void {
  wrapper.release();
  void wrapper.close().catch(() => {});
}
