/**
 * Reach `tts_stream_adapter` (src/framework/reaches.ts), verified on @livekit/agents 1.9.0:
 * whether the TTS the running agent uses streams. `label` and `capabilities` are public, but the
 * label the framework's `tts.StreamAdapter` gives itself (`tts.StreamAdapter<inner label>`,
 * src/tts/stream_adapter.ts) is not documented: its reports copy the wrapped TTS's.
 */
import { type FrameworkContext, read, turnOff, typeName } from './context.js';

const STREAM_ADAPTER_LABEL = 'tts.StreamAdapter<';

/**
 * `true`/`false` when the running agent's TTS (else the session's) is known to stream or not;
 * `undefined` when there is none or it is not the shape verified (which turns
 * `tts_adapter_dedupe` off). Never throws: `currentAgent` throws while no agent runs.
 */
export function ttsStreams(session: unknown, ctx: FrameworkContext): boolean | undefined {
  const tts = read(read(session, 'currentAgent'), 'tts') ?? read(session, 'tts');
  if (tts === undefined || tts === null) return undefined; // a realtime model, or text only
  const label = read(tts, 'label');
  if (typeof label === 'string' && label.startsWith(STREAM_ADAPTER_LABEL)) return false;
  const streaming = read(read(tts, 'capabilities'), 'streaming');
  if (typeof label !== 'string' || typeof streaming !== 'boolean') {
    turnOff(
      ctx,
      'tts_stream_adapter',
      `TTS label is ${typeName(label)}, capabilities.streaming is ${typeName(streaming)}`,
    );
    return undefined;
  }
  return streaming;
}
