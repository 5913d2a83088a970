import type { FrameworkFeature } from './features.js';

/**
 * Every use the plugin makes of `@livekit/agents` beyond its documented public API, in one list:
 * what it reads or writes, the framework versions it was verified on, and the feature that turns
 * itself off when the shape is not the one verified. Each is implemented in this folder, and
 * test/integration/framework-contract/ checks each against the installed framework.
 */
export interface Reach {
  feature: FrameworkFeature;
  /** `@livekit/agents` versions whose shape this reach was checked against. */
  verifiedOn: readonly string[];
  what: string;
}

export const REACHES = {
  input_audio_accessor: {
    feature: 'acoustic_speech_end',
    verifiedOn: ['1.8.1', '1.9.0'],
    what:
      "an own accessor over `session.input.audio` (AgentInput's getter and setter), so an input " +
      "assigned later (the room's, inside start()) is wrapped too; removed on close",
  },
  audio_input_multi_stream: {
    feature: 'acoustic_speech_end',
    verifiedOn: ['1.8.1', '1.9.0'],
    what:
      "the pass-through AudioInput feeds its frames through AudioInput's protected `multiStream` " +
      "(addInputStream), as the framework's own RecorderAudioInput does",
  },
  activity_input_stream: {
    feature: 'acoustic_speech_end',
    verifiedOn: ['1.8.1', '1.9.0'],
    what:
      "a started session's running activity (`_activity`, else the private `activity`) reads " +
      "its input through a MultiInputStream (`audioStream`, the input's id `audioStreamId`): the " +
      "probe swaps the input's stream for its wrapper's there, and back on close",
  },
  output_audio_accessor: {
    feature: 'audible_output',
    verifiedOn: ['1.8.1', '1.9.0'],
    what: "an own accessor over `session.output.audio` (AgentOutput's), removed on close",
  },
  audio_output_chain: {
    feature: 'audible_output',
    verifiedOn: ['1.8.1', '1.9.0'],
    what: "AudioOutput's protected `nextInChain`, followed to the sink at the end of the chain",
  },
  audio_output_capture: {
    feature: 'audible_output',
    verifiedOn: ['1.8.1', '1.9.0'],
    what:
      "the sink's own `captureFrame` and `clearBuffer` are wrapped on that one object (frames, " +
      'order and promise untouched) and put back on close',
  },
  audio_output_source: {
    feature: 'audible_output',
    verifiedOn: ['1.8.1', '1.9.0'],
    what:
      "ParticipantAudioOutput's private `audioSource` (an rtc-node AudioSource, whose " +
      '`queuedDuration` is public): without it the queue is modelled from the frames',
  },
  speech_handle_item_added: {
    feature: 'live_tool_calls',
    verifiedOn: ['1.8.1', '1.9.0'],
    what: "SpeechHandle's @internal `_addItemAddedCallback`: tool calls as they start and end",
  },
  tts_stream_adapter: {
    feature: 'tts_adapter_dedupe',
    verifiedOn: ['1.8.1', '1.9.0'],
    what:
      "the TTS's label `tts.StreamAdapter<…>` (the framework's adapter around a TTS that does " +
      "not stream) and `capabilities.streaming`, read from the running agent's TTS or the session's",
  },
} as const satisfies Record<string, Reach>;

export type ReachId = keyof typeof REACHES;
