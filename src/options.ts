/**
 * The options of `attachMetrics` and the parts of the LiveKit SDK it uses: Node-side public
 * types (the isomorphic ones, shared with the overlay, are in `types.ts`).
 */
import type { Meter, MeterProvider } from '@opentelemetry/api';
import type { MetricsRuntime } from './runtime.js';
import type { AlertRules, MetricsSink } from './types.js';
import type { PriceTable } from './usage/prices.js';

/** Minimal logger the plugin writes to (pino-compatible). */
export interface MetricsLogger {
  warn(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/** Options of `attachMetrics`. */
export interface AttachMetricsOptions {
  /** Constant dimensions (e.g. `{ agent_name: 'support' }`), copied into summaries and used by
   * every sink. Keys must be valid Prometheus label names. Default: `{}`. */
  labels?: Record<string, string>;
  /** Alert rules merged over `DEFAULT_ALERT_RULES`. Default: the defaults. */
  alerts?: AlertRules;
  /** Rolling window the alert rules evaluate over, in ms. Default: `300_000` (5 minutes). */
  alertWindowMs?: number;
  /** Samples needed in the window before a latency alert can be raised. Default: `1`. */
  alertMinSamples?: number;
  /** Requests needed in the window before an error-rate alert can be raised. Default: `5`. */
  alertMinRequests?: number;
  /** An alert clears only when the value is this fraction below (or above, for
   * `tokens_per_sec`) the threshold it crossed, so it does not flap. Default: `0.1`. */
  alertHysteresis?: number;
  /** Completed turns kept for `turns()`. Default: `50`. */
  maxTurns?: number;
  /** Samples per series kept exactly before switching to a DDSketch. Default: `1024`. */
  exactSamples?: number;
  /** Distinct tool names tracked in `summary().function.by_name` before new names fold into
   * `other` (names come from the LLM and can be invented). Default: `50`. */
  maxFunctionNames?: number;
  /** Where warnings go (a recurring problem is logged once). Default: `console`-backed. */
  logger?: MetricsLogger;
  /** Clock, for tests. Default: `Date.now`. */
  now?: () => number;
  /** Record into the runtime's Prometheus series (served by `startMetricsServer` here, or
   * delivered to the worker's hub from a job process). Default: `true`. */
  prometheus?: boolean;
  /** Also record every stat and counter through OpenTelemetry metrics, with the catalog's names
   * and units (seconds, `{request}`): pass a `Meter` or a `MeterProvider` from
   * `@opentelemetry/api`. Default: none. */
  otel?: { meter: Meter } | { meterProvider: MeterProvider };
  /** Your own sinks, called with everything the built-in ones get. Default: `[]`. */
  sinks?: MetricsSink[];
  /** The process's metrics runtime that this session records into (sessions gauge, Prometheus
   * series, the worker hub). Default: the process's default runtime, shared with
   * `startMetricsServer`. */
  runtime?: MetricsRuntime;
  /** The job's room (`ctx.room`, an `@livekit/rtc-node` Room). With it, the session's summaries,
   * turns and alerts are published to the room's participants over the data channel (see
   * `publish`). Default: none (nothing is published). */
  room?: MetricsRoom;
  /** How to publish to `room`, or `false` not to publish. Default: `{}` (every default below). */
  publish?: PublishOptions | false;
  /** Heard-latency reports from callers' helpers (docs/HEARD-LATENCY.md), read on the publish
   * topic while publishing to `room`; `false` to ignore them. Default: `{}`. */
  heardLatency?: HeardLatencyOptions | false;
  /** Watch the audio the session receives for the acoustic end of the user's speech (the
   * turn's `speech_end_lag` stage and `acoustic_e2e_latency`), by putting a pass-through
   * `AudioInput` in front of `session.input.audio`. Default: `true`. */
  acousticSpeechEnd?: boolean;
  /** Watch the audio the session sends for when its first audible sample leaves the agent (the
   * turn's `agent_output` stage: TTS leading silence and the output queue), by reading the
   * frames handed to the output sink at the end of `session.output.audio`'s chain.
   * Default: `true`. */
  audibleOutput?: boolean;
  /** Your prices (per 1M tokens, per 1,000 characters, per audio minute, by provider and model,
   * in one currency): with them, `summary().usage`, each turn's `usage` and
   * the cost counter carry the cost. No prices are shipped. Validated at attach.
   * Default: none (usage without cost). */
  prices?: PriceTable;
}

/** Which callers' heard-latency reports are accepted (see `AttachMetricsOptions.heardLatency`). */
export interface HeardLatencyOptions {
  /** Identities whose reports are accepted. Default: the caller the agent listens to (a
   * participant publishing a microphone track the agent subscribed to) that reports first. */
  from?: string[];
}

/** Data-channel publishing options (see `AttachMetricsOptions.publish`). */
export interface PublishOptions {
  /** Data topic. Must not start with `lk.` (LiveKit's own topics). Default: `'agent-metrics'`. */
  topic?: string;
  /** Shortest time between two `summary` messages, in ms; a summary is only sent when it changed.
   * From 100 to 600000. Default: `2000`. */
  intervalMs?: number;
  /** Identities of the participants to send to. Default: every participant in the room. */
  destinationIdentities?: string[];
}

/** The parts of an `@livekit/rtc-node` Room the publisher uses (the job's `ctx.room` fits). */
export interface MetricsRoom {
  readonly isConnected: boolean;
  readonly name: string | undefined;
  readonly localParticipant?: MetricsLocalParticipant | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each event has its own arguments
  on(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/** The parts of an `@livekit/rtc-node` LocalParticipant the publisher uses. */
export interface MetricsLocalParticipant {
  publishData(
    data: Uint8Array,
    options: { reliable?: boolean; topic?: string; destination_identities?: string[] },
  ): Promise<void>;
  registerRpcMethod?(
    method: string,
    handler: (data: { callerIdentity: string; payload: string }) => Promise<string>,
  ): void;
  unregisterRpcMethod?(method: string): void;
}
