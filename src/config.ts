import type { Meter } from '@opentelemetry/api';
import { type ResolvedRule, resolveAlertRules } from './alerts/rules.js';
import { LABEL_NAME, MAX_LABEL_VALUE, RESERVED_LABELS } from './catalog/label-names.js';
import { ConfigCheck, MetricsConfigError } from './errors.js';
import { type MetricsRuntime, defaultMetricsRuntime } from './runtime.js';
import type { AttachMetricsOptions, MetricsLogger, MetricsRoom } from './options.js';
import type { MetricsSink } from './types.js';
import { type PriceBook, resolvePrices } from './usage/prices.js';
import { DEFAULT_TOPIC } from './wire/messages.js';

export interface ResolvedOptions {
  labels: Readonly<Record<string, string>>;
  alertRules: ResolvedRule[];
  alertWindowMs: number;
  alertMinSamples: number;
  alertMinRequests: number;
  alertHysteresis: number;
  maxTurns: number;
  exactSamples: number;
  maxFunctionNames: number;
  logger: MetricsLogger;
  now: () => number;
  prometheus: boolean;
  /** Where and how to publish over the data channel; absent when not publishing. */
  publish: ResolvedPublishOptions | undefined;
  /** The meter of the OpenTelemetry sink; absent without one. */
  otelMeter: Meter | undefined;
  sinks: MetricsSink[];
  runtime: MetricsRuntime;
  /** Heard-latency reports: accepted when publishing; `from` is the allowlist. */
  heardLatency: { from: string[] | undefined } | undefined;
  acousticSpeechEnd: boolean;
  audibleOutput: boolean;
  /** The price table, when costs were asked for. */
  prices?: PriceBook | undefined;
}

export interface ResolvedPublishOptions {
  room: MetricsRoom;
  topic: string;
  intervalMs: number;
  destinationIdentities: string[] | undefined;
}

const consoleLogger: MetricsLogger = {
  warn: (obj, msg) => console.warn('[livekit-agents-metrics]', msg ?? '', obj),
};

/** An optional integer option within [min, max], or its default; throws MetricsConfigError. */
export function integerOption(
  value: unknown,
  option: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new MetricsConfigError(
      option,
      `expected an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}

function resolveLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new MetricsConfigError('labels', 'expected an object of string label values');
  }
  const out: Record<string, string> = {};
  const check = new ConfigCheck();
  for (const [name, value] of Object.entries(labels)) {
    check.take(() => {
      if (!LABEL_NAME.test(name) || name.startsWith('__')) {
        throw new MetricsConfigError(
          `labels.${name}`,
          'a label name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __',
        );
      }
      if (RESERVED_LABELS.includes(name)) {
        throw new MetricsConfigError(
          `labels.${name}`,
          `"${name}" is set by the exporter; choose another name`,
        );
      }
      if (typeof value !== 'string') {
        throw new MetricsConfigError(`labels.${name}`, `expected a string, got ${typeof value}`);
      }
      if (value.length > MAX_LABEL_VALUE) {
        throw new MetricsConfigError(
          `labels.${name}`,
          `a label value is at most ${MAX_LABEL_VALUE} characters, got ${value.length}`,
        );
      }
      out[name] = value;
    }, undefined);
  }
  check.done();
  return out;
}

function resolveHysteresis(value: unknown): number {
  const hysteresis = value ?? 0.1;
  if (typeof hysteresis !== 'number' || !(hysteresis >= 0 && hysteresis < 1)) {
    throw new MetricsConfigError(
      'alertHysteresis',
      `expected a fraction in [0, 1), got ${String(hysteresis)}`,
    );
  }
  return hysteresis;
}

function resolveLogger(value: unknown): MetricsLogger {
  const logger = (value ?? consoleLogger) as Partial<MetricsLogger> | null;
  if (!logger || typeof logger.warn !== 'function') {
    throw new MetricsConfigError('logger', 'expected an object with a warn(obj, msg) method');
  }
  return logger as MetricsLogger;
}

function resolveOtel(value: unknown): Meter | undefined {
  if (value === undefined) return undefined;
  const o = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const meter = o.meter as Partial<Meter> | undefined;
  if (meter && typeof meter.createHistogram === 'function') return meter as Meter;
  const provider = o.meterProvider as { getMeter?: unknown } | undefined;
  if (provider && typeof provider.getMeter === 'function') {
    return (provider.getMeter as (name: string) => Meter)('livekit-agents-metrics');
  }
  throw new MetricsConfigError(
    'otel',
    'expected { meter } or { meterProvider } from @opentelemetry/api',
  );
}

function resolveSinks(value: unknown): MetricsSink[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'object' || s === null)) {
    throw new MetricsConfigError('sinks', 'expected an array of sink objects (see MetricsSink)');
  }
  return [...(value as MetricsSink[])];
}

function resolveRuntime(value: unknown): MetricsRuntime {
  if (value === undefined) return defaultMetricsRuntime();
  if (typeof value !== 'object' || value === null || !('exporter' in value)) {
    throw new MetricsConfigError('runtime', 'expected a runtime from createMetricsRuntime()');
  }
  return value as MetricsRuntime;
}

/** Validates every option once, at attach time, and fills in the defaults. Every problem is
 * reported at once, in one MetricsConfigError. */
export function resolveOptions(options: AttachMetricsOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new MetricsConfigError('options', 'expected an options object');
  }
  const o = options;
  const check = new ConfigCheck();
  const int = (name: keyof AttachMetricsOptions, fallback: number, min: number, max: number) =>
    check.take(() => integerOption(o[name], name, fallback, min, max), fallback);
  if (o.now !== undefined && typeof o.now !== 'function') {
    check.take(() => {
      throw new MetricsConfigError('now', 'expected a function returning epoch milliseconds');
    }, undefined);
  }
  const resolved: ResolvedOptions = {
    labels: Object.freeze(check.take(() => resolveLabels(o.labels), {})),
    alertRules: check.take(() => resolveAlertRules(o.alerts), []),
    alertWindowMs: int('alertWindowMs', 300_000, 1_000, 86_400_000),
    alertMinSamples: int('alertMinSamples', 1, 1, 1_000_000),
    alertMinRequests: int('alertMinRequests', 5, 1, 1_000_000),
    alertHysteresis: check.take(() => resolveHysteresis(o.alertHysteresis), 0.1),
    maxTurns: int('maxTurns', 50, 0, 100_000),
    exactSamples: int('exactSamples', 1024, 0, 1_000_000),
    maxFunctionNames: int('maxFunctionNames', 50, 1, 10_000),
    logger: check.take(() => resolveLogger(o.logger), consoleLogger),
    now: typeof o.now === 'function' ? o.now : Date.now,
    prometheus: o.prometheus ?? true,
    publish: check.take(() => resolvePublish(o), undefined),
    otelMeter: check.take(() => resolveOtel(o.otel), undefined),
    sinks: check.take(() => resolveSinks(o.sinks), []),
    runtime: check.take(() => resolveRuntime(o.runtime), undefined as unknown as MetricsRuntime),
    heardLatency: check.take(() => resolveHeardLatency(o.heardLatency), undefined),
    acousticSpeechEnd: check.take(
      () => resolveBoolean(o.acousticSpeechEnd, 'acousticSpeechEnd'),
      true,
    ),
    audibleOutput: check.take(() => resolveBoolean(o.audibleOutput, 'audibleOutput'), true),
    prices: check.take(() => resolvePrices(o.prices), undefined),
  };
  check.done();
  return resolved;
}

function resolveHeardLatency(value: unknown): ResolvedOptions['heardLatency'] {
  if (value === false) return undefined;
  if (value === undefined) return { from: undefined };
  if (typeof value !== 'object' || value === null) {
    throw new MetricsConfigError('heardLatency', 'expected an options object or false');
  }
  const from = (value as { from?: unknown }).from;
  if (
    from !== undefined &&
    (!Array.isArray(from) ||
      from.length === 0 ||
      from.some((d) => typeof d !== 'string' || d.length === 0))
  ) {
    throw new MetricsConfigError(
      'heardLatency.from',
      'expected a non-empty array of participant identities (omit it for the linked caller)',
    );
  }
  return { from: from && [...(from as string[])] };
}

function resolveBoolean(value: unknown, option: string): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new MetricsConfigError(option, 'expected true or false');
  return value;
}

function resolvePublish(options: AttachMetricsOptions): ResolvedPublishOptions | undefined {
  const { room, publish } = options;
  if (publish === false) return undefined;
  if (publish !== undefined && (typeof publish !== 'object' || publish === null)) {
    throw new MetricsConfigError('publish', 'expected an options object or false');
  }
  if (room === undefined) {
    if (publish === undefined) return undefined;
    throw new MetricsConfigError(
      'publish',
      "publishing needs the job's room: pass `room: ctx.room` (or remove `publish`)",
    );
  }
  const candidate = room as Partial<MetricsRoom> | null;
  if (
    !candidate ||
    typeof candidate.on !== 'function' ||
    typeof candidate.off !== 'function' ||
    !('isConnected' in candidate)
  ) {
    throw new MetricsConfigError('room', "expected the job's @livekit/rtc-node Room (ctx.room)");
  }
  const topic = publish?.topic ?? DEFAULT_TOPIC;
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > 128) {
    throw new MetricsConfigError(
      'publish.topic',
      'expected a non-empty string of at most 128 characters',
    );
  }
  if (topic.startsWith('lk.')) {
    throw new MetricsConfigError(
      'publish.topic',
      `"${topic}" starts with "lk.", which LiveKit reserves for its own topics; choose another`,
    );
  }
  const destinations = publish?.destinationIdentities;
  if (
    destinations !== undefined &&
    (!Array.isArray(destinations) ||
      destinations.length === 0 ||
      destinations.some((d) => typeof d !== 'string' || d.length === 0))
  ) {
    throw new MetricsConfigError(
      'publish.destinationIdentities',
      'expected a non-empty array of participant identities (omit it to send to everyone)',
    );
  }
  return {
    room: room,
    topic,
    intervalMs: integerOption(publish?.intervalMs, 'publish.intervalMs', 2_000, 100, 600_000),
    destinationIdentities: destinations && [...destinations],
  };
}
