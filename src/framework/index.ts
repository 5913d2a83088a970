/**
 * The framework adapter: every use the plugin makes of `@livekit/agents` beyond its documented
 * public API lives in this folder, each reach with a shape check and the versions it was
 * verified on (REACHES). On a shape it does not know, a reach changes nothing, its feature turns
 * itself off for the session (`health.disabledFeatures`,
 * the `disabled_features` counter (catalog)), and the agent goes on as without it.
 */
export { type FrameworkContext, turnOff } from './context.js';
export { FRAMEWORK_FEATURES, type FrameworkFeature } from './features.js';
export { REACHES, type Reach, type ReachId } from './reaches.js';
export { InputAudioTap, activityInput, isObservedInput, observedLayers } from './input-audio.js';
export { OutputAudioTap, type SinkHooks, type SinkWatcher, chainSink } from './output-audio.js';
export { onSpeechItemAdded } from './speech-handle.js';
export { ttsStreams } from './tts.js';
