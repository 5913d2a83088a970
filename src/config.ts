import { type ResolvedRule, resolveAlertRules } from './alerts/rules.js';
import { MetricsConfigError } from './errors.js';
import type { AttachMetricsOptions, MetricsLogger, MetricsRoom } from './types.js';
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
}

export interface ResolvedPublishOptions {
  room: MetricsRoom;
  topic: string;
  intervalMs: number;
  destinationIdentities: string[] | undefined;
}

/** Prometheus label names; `__`-prefixed names are reserved. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Labels the exporters set themselves, so a constant label must not take them. */
export const RESERVED_LABELS = [
  'le',
  'quantile',
  'component',
  'provider',
  'model',
  'function',
  'outcome',
];

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
  for (const [name, value] of Object.entries(labels)) {
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
    out[name] = value;
  }
  return out;
}

/** Validates every option once, at attach time, and fills in the defaults. */
export function resolveOptions(options: AttachMetricsOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new MetricsConfigError('options', 'expected an options object');
  }
  const hysteresis = options.alertHysteresis ?? 0.1;
  if (typeof hysteresis !== 'number' || !(hysteresis >= 0 && hysteresis < 1)) {
    throw new MetricsConfigError(
      'alertHysteresis',
      `expected a fraction in [0, 1), got ${String(hysteresis)}`,
    );
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new MetricsConfigError('now', 'expected a function returning epoch milliseconds');
  }
  const logger = options.logger ?? consoleLogger;
  if (typeof logger.warn !== 'function') {
    throw new MetricsConfigError('logger', 'expected an object with a warn(obj, msg) method');
  }
  return {
    labels: Object.freeze(resolveLabels(options.labels)),
    alertRules: resolveAlertRules(options.alerts),
    alertWindowMs: integerOption(
      options.alertWindowMs,
      'alertWindowMs',
      300_000,
      1_000,
      86_400_000,
    ),
    alertMinSamples: integerOption(options.alertMinSamples, 'alertMinSamples', 1, 1, 1_000_000),
    alertMinRequests: integerOption(options.alertMinRequests, 'alertMinRequests', 5, 1, 1_000_000),
    alertHysteresis: hysteresis,
    maxTurns: integerOption(options.maxTurns, 'maxTurns', 50, 0, 100_000),
    exactSamples: integerOption(options.exactSamples, 'exactSamples', 1024, 0, 1_000_000),
    maxFunctionNames: integerOption(options.maxFunctionNames, 'maxFunctionNames', 50, 1, 10_000),
    logger,
    now: options.now ?? Date.now,
    prometheus: options.prometheus ?? true,
    publish: resolvePublish(options),
  };
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
