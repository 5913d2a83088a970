/**
 * Reach `speech_handle_item_added` (src/framework/reaches.ts), verified on @livekit/agents
 * 1.9.0: `SpeechHandle._addItemAddedCallback` (@internal) calls back with each chat item a speech
 * adds as it is added, so tool calls are seen as they start and end (live tool concurrency).
 */
import { type FrameworkContext, read, turnOff, typeName } from './context.js';

/**
 * Calls `onItem` with each item `handle` adds. On a handle without the callback it turns
 * `live_tool_calls` off (tools are then timed from `function_tools_executed`). Never throws.
 */
export function onSpeechItemAdded(
  handle: unknown,
  ctx: FrameworkContext,
  onItem: (item: unknown) => void,
): boolean {
  const add = read(handle, '_addItemAddedCallback');
  if (typeof add !== 'function') {
    turnOff(
      ctx,
      'speech_handle_item_added',
      `SpeechHandle._addItemAddedCallback is ${typeName(add)}`,
    );
    return false;
  }
  const ok = ctx.guard.run('framework', 'speech_handle:item_added', () =>
    add.call(handle, (item: unknown) => onItem(item)),
  );
  if (!ok) turnOff(ctx, 'speech_handle_item_added', 'SpeechHandle._addItemAddedCallback threw');
  return ok;
}
