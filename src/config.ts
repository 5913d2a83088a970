import type { Meter } from '@opentelemetry/api';
import { type ResolvedRule, resolveAlertRules } from './alerts/rules.js';
import { LABEL_NAME, MAX_LABEL_VALUE, RESERVED_LABELS } from './catalog/label-names.js';
import {
  ConfigCheck,
  MetricsConfigError,
  readList,
  readOption,
  readRecord,
  shown,
} from './errors.js';
import { type MetricsRuntime, defaultMetricsRuntime } from './runtime.js';
import type {
  AttachMetricsOptions,
  MetricsLogger,
  MetricsRoom,
  PublishOptions,
} from './options.js';
import type { MetricsSink } from './types.js';
import { type PriceBook, resolvePrices } from './usage/prices.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';
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
      `expected an integer from ${min} to ${max}, got ${shown(value)}`,
    );
  }
  return value;
}

function resolveLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {};
  const entries = readRecord(labels, 'labels');
  if (!entries) throw new MetricsConfigError('labels', 'expected an object of string label values');
  // No prototype: a label named `constructor` is a label like any other.
  const out: Record<string, string> = Object.create(null);
  const check = new ConfigCheck();
  for (const [name, value] of entries) {
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
      `expected a fraction in [0, 1), got ${shown(hysteresis)}`,
    );
  }
  return hysteresis;
}

function resolveLogger(value: unknown): MetricsLogger {
  if (value === undefined) return consoleLogger;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof readOption(value, 'warn', 'logger') !== 'function'
  ) {
    throw new MetricsConfigError('logger', 'expected an object with a warn(obj, msg) method');
  }
  return value as MetricsLogger;
}

function resolveOtel(value: unknown): Meter | undefined {
  if (value === undefined) return undefined;
  const member = (name: string) =>
    typeof value === 'object' && value !== null ? readOption(value, name, 'otel') : undefined;
  const meter = member('meter');
  if (isObject(meter) && typeof readOption(meter, 'createHistogram', 'otel.meter') === 'function') {
    return meter as Meter;
  }
  const provider = member('meterProvider');
  const getMeter = isObject(provider)
    ? readOption(provider, 'getMeter', 'otel.meterProvider')
    : undefined;
  if (typeof getMeter === 'function') {
    let got: unknown;
    try {
      // the instrumentation scope: the package's name and version (otel_scope_version in Prometheus)
      got = getMeter.call(provider, PACKAGE_NAME, PACKAGE_VERSION);
    } catch {
      throw new MetricsConfigError('otel.meterProvider', 'its getMeter() threw');
    }
    return got as Meter;
  }
  throw new MetricsConfigError(
    'otel',
    'expected { meter } or { meterProvider } from @opentelemetry/api',
  );
}

const isObject = (value: unknown): value is object =>
  (typeof value === 'object' || typeof value === 'function') && value !== null;

/** Items of a list option (sinks, identities) read at most. */
const MAX_LIST_OPTION = 1_000;

function resolveSinks(value: unknown): MetricsSink[] {
  if (value === undefined) return [];
  const list = readList(value, 'sinks', MAX_LIST_OPTION);
  if (!list || list.length > MAX_LIST_OPTION || list.items.some((s) => !isObject(s))) {
    throw new MetricsConfigError(
      'sinks',
      `expected an array of at most ${MAX_LIST_OPTION} sink objects (see MetricsSink)`,
    );
  }
  return list.items as MetricsSink[];
}

/** A non-empty list of non-empty strings (participant identities), copied. */
function identities(value: unknown, option: string, what: string): string[] | undefined {
  if (value === undefined) return undefined;
  const list = readList(value, option, MAX_LIST_OPTION);
  if (
    !list ||
    list.length === 0 ||
    list.length > MAX_LIST_OPTION ||
    list.items.some((d) => typeof d !== 'string' || d.length === 0)
  ) {
    throw new MetricsConfigError(
      option,
      `expected a non-empty array of at most ${MAX_LIST_OPTION} participant identities (${what})`,
    );
  }
  return list.items as string[];
}

function resolveRuntime(value: unknown): MetricsRuntime {
  if (value === undefined) return defaultMetricsRuntime();
  let ok: boolean;
  try {
    ok = typeof value === 'object' && value !== null && 'exporter' in value;
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new MetricsConfigError('runtime', 'expected a runtime from createMetricsRuntime()');
  }
  return value as MetricsRuntime;
}

/** Every option `resolveOptions` reads, each read once through a guard. */
const OPTION_KEYS = [
  'labels',
  'alerts',
  'alertWindowMs',
  'alertMinSamples',
  'alertMinRequests',
  'alertHysteresis',
  'maxTurns',
  'exactSamples',
  'maxFunctionNames',
  'logger',
  'now',
  'prometheus',
  'otel',
  'sinks',
  'runtime',
  'room',
  'publish',
  'heardLatency',
  'acousticSpeechEnd',
  'audibleOutput',
  'prices',
] as const satisfies readonly (keyof AttachMetricsOptions)[];

/** Validates every option once, at attach time, and fills in the defaults. Every problem is
 * reported at once, in one MetricsConfigError. */
export function resolveOptions(options: AttachMetricsOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new MetricsConfigError('options', 'expected an options object');
  }
  const check = new ConfigCheck();
  // A copy of what was given, read once: a getter or Proxy that throws is one problem, and no
  // later check reads the caller's object again.
  const o: AttachMetricsOptions = {};
  for (const key of OPTION_KEYS) {
    const value = check.take(() => readOption(options, key, key), undefined);
    if (value !== undefined) (o as Record<string, unknown>)[key] = value;
  }
  const int = (name: keyof AttachMetricsOptions, fallback: number, min: number, max: number) =>
    check.take(() => integerOption(o[name], name, fallback, min, max), fallback);
  if (o.now !== undefined && typeof o.now !== 'function') {
    check.problem('now', 'expected a function returning epoch milliseconds');
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
    prometheus: check.take(() => resolveBoolean(o.prometheus, 'prometheus'), true),
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
  const from = readOption(value, 'from', 'heardLatency.from');
  return { from: identities(from, 'heardLatency.from', 'omit it for the linked caller') };
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
  if (!isRoom(room)) {
    throw new MetricsConfigError('room', "expected the job's @livekit/rtc-node Room (ctx.room)");
  }
  const read = (key: keyof PublishOptions) =>
    publish === undefined ? undefined : readOption(publish, key, `publish.${key}`);
  const topic = read('topic') ?? DEFAULT_TOPIC;
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
  return {
    room,
    topic,
    intervalMs: integerOption(read('intervalMs'), 'publish.intervalMs', 2_000, 100, 600_000),
    destinationIdentities: identities(
      read('destinationIdentities'),
      'publish.destinationIdentities',
      'omit it to send to everyone',
    ),
  };
}

function isRoom(room: unknown): room is MetricsRoom {
  if (!isObject(room)) return false;
  try {
    const r = room as Partial<MetricsRoom>;
    return typeof r.on === 'function' && typeof r.off === 'function' && 'isConnected' in r;
  } catch {
    return false;
  }
}
