/**
 * `livekit-agents-metrics/caller`: the caller's side of heard latency, for callers written with
 * `@livekit/rtc-node` (test callers, load generators, SIP bridges). See docs/HEARD-LATENCY.md.
 * The agent's side (reading reports, answering clock pings) is inside `attachMetrics`; the wire
 * protocol is documented there, its code stays internal.
 */
export {
  measureHeardLatency,
  type HeardLatencyMeter,
  type HeardLatencyMeterStats,
  type MeasureHeardLatencyOptions,
} from './measure-heard-latency.js';
export type { VoiceActivityOptions } from './heard-latency-tracker.js';
export type { ClockEstimate, HeardLatencyReport } from './heard-report.js';
export { MetricsConfigError, type ConfigProblem } from '../errors.js';
