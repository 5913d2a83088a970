/**
 * `livekit-agents-metrics/overlay`: the browser entry. It imports nothing from Node, React or
 * livekit-client; `tsconfig.browser.json` compiles it without Node's types to keep it so.
 */
export {
  mountMetricsOverlay,
  type HeardLatencyOverlayOptions,
  type MetricsOverlayOptions,
} from './mount-overlay.js';
export type {
  DataReceivedListener,
  MetricsOverlayRoom,
  MetricsParticipant,
  ParticipantListener,
  RoomFeedOptions,
} from './room-feed.js';
export { alertText, formatValue } from '../catalog/format.js';
export {
  measureHeardLatency,
  type BrowserHeardLatencyMeter,
  type BrowserHeardLatencyOptions,
  type HeardLatencyRoom,
  type HeardLatencyTrack,
} from './heard-latency.js';
export type { HeardLatencyReport } from '../caller/heard-report.js';
export type { VoiceActivityOptions } from '../caller/heard-latency-tracker.js';
export { MetricsConfigError, type ConfigProblem } from '../errors.js';
export {
  MetricsFeed,
  type AgentMetricsState,
  type MetricsFeedOptions,
} from '../view/metrics-feed.js';
export { decodeMessage } from '../wire/decode.js';
export { DEFAULT_TOPIC, summaryRpcMethod } from '../wire/messages.js';
export type {
  AlertMessage,
  MetricsMessage,
  SummaryMessage,
  TurnMessage,
} from '../wire/messages.js';
export type {
  ActiveAlert,
  AlertLevel,
  AlertMetric,
  BottleneckComponent,
  Component,
  MetricsSummary,
  Stats,
  TurnStage,
  TurnTimeline,
} from '../types.js';
