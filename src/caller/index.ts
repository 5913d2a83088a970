/**
 * `livekit-agents-metrics/caller`: the caller's side of heard latency, for callers written with
 * `@livekit/rtc-node` (test callers, load generators, SIP bridges), and the pieces the agent uses
 * to read what callers send. See docs/HEARD-LATENCY.md.
 */
export {
  measureHeardLatency,
  type HeardLatencyMeter,
  type HeardLatencyMeterStats,
  type MeasureHeardLatencyOptions,
} from './measure-heard-latency.js';
export {
  HeardLatencyTracker,
  VOICE_ACTIVITY_DEFAULTS,
  type HeardTurn,
  type VoiceActivityOptions,
  type VoicedSpan,
} from './heard-latency-tracker.js';
export { ClockResponder, type ClockResponderOptions } from './clock-responder.js';
export {
  CALLER_WIRE_VERSION,
  MAX_CALLER_MESSAGE_BYTES,
  MAX_HEARD_LATENCY_MS,
  MAX_OUTPUT_LATENCY_MS,
  clockPong,
  clockSample,
  encodeCallerMessage,
  estimateClockOffset,
  parseCallerMessage,
  splitHeardLatency,
  type AgentTurnTimes,
  type CallerMessage,
  type ClockEstimate,
  type ClockPingMessage,
  type ClockPongMessage,
  type ClockSample,
  type HeardLatencyReport,
  type HeardLatencySplit,
} from './heard-report.js';
export { MetricsConfigError } from '../errors.js';
