/**
 * The plugin's features that rest on `@livekit/agents` internals (src/framework/reaches.ts): when
 * a reach finds a shape it does not know, its feature turns itself off for the session, shows in
 * `summary().health.disabledFeatures[feature]` and counts in
 * the `disabled_features` counter (catalog). A fixed list, so those series stay few.
 * Pure (no imports): src/types.ts, which the browser compiles, names it.
 *
 * - `acoustic_speech_end`: the input audio probe (option `acousticSpeechEnd`): the
 *   `speech_end_lag` stage and `acoustic_e2e_latency`;
 * - `audible_output`: the output audio probe (option `audibleOutput`): the `agent_output` stage;
 * - `live_tool_calls`: tool starts and ends as they happen (a speech handle's item callback);
 *   without it, tools are timed from the `function_tools_executed` event;
 * - `tts_adapter_dedupe`: telling a `tts.StreamAdapter`'s copy of a request report from the
 *   wrapped TTS's own; without it, copies are told apart by request id and content only.
 */
export const FRAMEWORK_FEATURES = [
  'acoustic_speech_end',
  'audible_output',
  'live_tool_calls',
  'tts_adapter_dedupe',
] as const;
export type FrameworkFeature = (typeof FRAMEWORK_FEATURES)[number];
