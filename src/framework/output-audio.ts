/**
 * The audio a session SENDS, shown to a watcher as its sink is handed each frame (the output
 * probe, src/heard/output-audio-probe.ts). Reaches `output_audio_accessor`,
 * `audio_output_chain`, `audio_output_capture` and `audio_output_source`
 * (src/framework/reaches.ts), verified on @livekit/agents 1.9.0.
 *
 * The sink is the last output of `session.output.audio`'s chain (for a room, the framework's
 * `ParticipantAudioOutput`, which feeds an rtc-node `AudioSource`). Its own `captureFrame` and
 * `clearBuffer` are wrapped on that one object: the frame, its order and the returned promise are
 * the sink's own. The output present at attach and every output assigned later are followed; on
 * close every sink gets its own methods back.
 */
import { voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { type FrameworkContext, read, turnOff, typeName } from './context.js';
import { type InterposedAccessor, interposeAccessor } from './io-accessor.js';
import type { ReachId } from './reaches.js';

/** The parts of a framework `AudioOutput` the tap uses. */
interface SinkLike {
  captureFrame(frame: AudioFrame): Promise<void>;
  clearBuffer?: () => void;
  on(event: string, listener: () => void): unknown;
  off?(event: string, listener: () => void): unknown;
}

/** What a watcher is told about one sink. */
export interface SinkHooks {
  /** A frame is handed to the sink: called just before the sink's own `captureFrame`; a function
   * it returns is called with the promise the sink returned. */
  capture(frame: AudioFrame): ((result: Promise<void>) => void) | void;
  /** The sink dropped its queue (`clearBuffer`). */
  cleared(): void;
  /** The sink finished a playback segment (its `playbackFinished` event). */
  finished(): void;
}

/** Makes the hooks of one sink; `audioSource` is the sink's rtc-node AudioSource if it has one
 * (reach `audio_output_source`), else `undefined`. */
export type SinkWatcher = (sink: { audioSource: unknown }) => SinkHooks;

/** Outputs in a chain followed to find the sink; a longer chain is not followed. */
const MAX_CHAIN = 16;

interface Installed {
  sink: SinkLike;
  /** Each method wrapped: the sink's own, and the wrapper put in its place. */
  wrapped: Array<{ key: 'captureFrame' | 'clearBuffer'; own: unknown; wrapper: unknown }>;
  onFinished: () => void;
}

function isSink(x: unknown): x is SinkLike {
  return typeof read(x, 'captureFrame') === 'function' && typeof read(x, 'on') === 'function';
}

/**
 * Reach `audio_output_chain`: the sink at the end of `head`'s chain, or why not. A framework
 * `AudioOutput` names the next output in `nextInChain` (undefined at the end).
 */
export function chainSink(head: unknown): SinkLike | { unknown: string; reach: ReachId } {
  let sink = head;
  for (let i = 0; i < MAX_CHAIN; i++) {
    if (!isSink(sink)) {
      return {
        reach: 'audio_output_capture',
        unknown: `the output is ${typeName(sink)} without captureFrame and on`,
      };
    }
    if (sink instanceof voice.AudioOutput && !('nextInChain' in sink)) {
      return { reach: 'audio_output_chain', unknown: 'AudioOutput has no nextInChain' };
    }
    const next = read(sink, 'nextInChain');
    if (next === undefined || next === null) return sink;
    if (!isSink(next)) {
      return {
        reach: 'audio_output_chain',
        unknown: `AudioOutput.nextInChain is ${typeName(next)}`,
      };
    }
    sink = next;
  }
  return isSink(sink) ? sink : { reach: 'audio_output_chain', unknown: 'chain too long' };
}

/**
 * Shows `watcher` each frame the sink of `session.output.audio` is handed, until {@link close}.
 * On a shape it does not know it changes nothing and turns `audible_output` off.
 */
export class OutputAudioTap {
  private readonly installed: Installed[] = [];
  private readonly seen = new WeakSet<object>();
  private accessor: InterposedAccessor | undefined;
  private closed = false;

  constructor(
    session: unknown,
    private readonly ctx: FrameworkContext,
    private readonly watcher: SinkWatcher,
  ) {
    ctx.guard.run('framework', 'output_audio:attach', () => {
      const output = read(session, 'output');
      if (typeof output !== 'object' || output === null) {
        return turnOff(ctx, 'output_audio_accessor', `session.output is ${typeName(output)}`);
      }
      const accessor = interposeAccessor(output, 'audio', (audio, set) => {
        set(audio);
        this.watch(audio);
      });
      if (typeof accessor === 'string') {
        return turnOff(ctx, 'output_audio_accessor', `AgentOutput.audio: ${accessor}`);
      }
      this.accessor = accessor;
      this.watch(accessor.get());
    });
  }

  /** Every sink gets its own methods back; outputs assigned later are not followed. Idempotent,
   * never throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.guard.run('framework', 'output_audio:close', () => this.accessor?.restore());
    for (const { sink, wrapped, onFinished } of this.installed) {
      this.ctx.guard.run('framework', 'output_audio:close', () => {
        for (const { key, own, wrapper } of wrapped) {
          // only what is still ours: a wrapper put over ours stays (ours passes frames through)
          if (sink[key] !== wrapper) continue;
          const inherited = (Object.getPrototypeOf(sink) as Partial<SinkLike> | null)?.[key];
          if (inherited === own) Reflect.deleteProperty(sink, key);
          else Object.assign(sink, { [key]: own });
        }
        sink.off?.('playbackFinished', onFinished);
      });
    }
    this.installed.length = 0;
  }

  /** Finds the sink at the end of `head`'s chain and watches it, once per sink. */
  private watch(head: unknown): void {
    if (this.closed || head === null || head === undefined) return;
    this.ctx.guard.run('framework', 'output_audio:watch', () => {
      const sink = chainSink(head);
      if ('unknown' in sink) return turnOff(this.ctx, sink.reach, sink.unknown);
      if (this.seen.has(sink)) return;
      this.seen.add(sink);
      this.install(sink);
    });
  }

  private install(sink: SinkLike): void {
    const { guard } = this.ctx;
    const closed = () => this.closed;
    const original = sink.captureFrame;
    const originalClear = sink.clearBuffer;
    const hooks = this.watcher({ audioSource: read(sink, 'audioSource') });
    const onFinished = () => {
      if (!closed()) guard.run('plugin', 'output_audio:finished', () => hooks.finished());
    };
    sink.on('playbackFinished', onFinished);

    const captureFrame = function (this: SinkLike, frame: AudioFrame): Promise<void> {
      if (closed()) return original.call(this, frame);
      const after = guard.call('plugin', 'output_audio:capture', () => hooks.capture(frame));
      const result = original.call(this, frame);
      if (typeof after === 'function')
        guard.run('plugin', 'output_audio:captured', () => after(result));
      return result;
    };
    const installed: Installed = { sink, wrapped: [], onFinished };
    this.installed.push(installed);
    sink.captureFrame = captureFrame;
    installed.wrapped.push({ key: 'captureFrame', own: original, wrapper: captureFrame });
    if (typeof originalClear === 'function') {
      const clearBuffer = function (this: SinkLike): void {
        if (!closed()) guard.run('plugin', 'output_audio:cleared', () => hooks.cleared());
        return originalClear.call(this);
      };
      sink.clearBuffer = clearBuffer;
      installed.wrapped.push({ key: 'clearBuffer', own: originalClear, wrapper: clearBuffer });
    }
  }
}
