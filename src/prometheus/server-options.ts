/**
 * The options of `startMetricsServer`, validated once (every problem reported at once) with
 * their defaults filled in.
 */
import { resolveAlertRules } from '../alerts/rules.js';
import { exportedValue } from '../catalog/families.js';
import { statDef } from '../catalog/index.js';
import { integerOption } from '../config.js';
import { ConfigCheck, MetricsConfigError, readList, readOption, shown } from '../errors.js';
import { type MetricsRuntime, defaultMetricsRuntime } from '../runtime.js';
import type { AlertRules } from '../types.js';
import { type BucketLayout, DEFAULT_BUCKETS } from './metric-families.js';

export type MetricsAuth = { bearerToken: string } | { username: string; password: string };

/** What the server needs of a registry of your own metrics: prom-client's `Registry` fits (the
 * plugin does not depend on prom-client's types, so a project without it still compiles). */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** Options of `startMetricsServer`. */
export interface MetricsServerOptions {
  /** TCP port; `0` picks a free one. Default: `9464`. */
  port?: number;
  /** Interface to bind. Default: `'0.0.0.0'` — every IPv4 interface, as Prometheus scrapes pods
   * by their IP. Pass `'127.0.0.1'` to serve this machine only. */
  host?: string;
  /** Path of the endpoint. Default: `'/metrics'`. */
  path?: string;
  /** Require `Authorization: Bearer <token>` or HTTP basic auth. Default: none. */
  auth?: MetricsAuth;
  /** A prom-client registry of your own metrics, served at the same endpoint after the
   * plugin's (in the registry's content type). Default: none. */
  registry?: MetricsRegistry;
  /** Histogram boundaries; latency in seconds. Default: DEFAULT_BUCKETS. Every process of the
   * worker uses the same layout (job processes receive it from this process). */
  buckets?: Partial<BucketLayout>;
  /** Alert rules whose thresholds are added as bucket boundaries (the defaults always are), so
   * a rule on a threshold reads a boundary. Default: the defaults. */
  alerts?: AlertRules;
  /** Accept job processes' samples (the worker hub). Default: `true`. */
  hub?: boolean;
  /** How often job processes deliver their samples, in ms. Default: `1000`. */
  flushMs?: number;
  /** The runtime whose series are served (and that the hub's job processes add to). Default:
   * the process's default runtime, the one `attachMetrics` uses by default. */
  runtime?: MetricsRuntime;
  /** Connections open at once (scrapers, health checks, idle kept-alive ones). A connection
   * over the cap is closed at once, unserved, and counted in the scrape-refused counter
   * (reason `connections`). Default: `64`; from 1 to 10 000. */
  maxConnections?: number;
  /** Time a client has to send its whole request (request line and headers) once it connected
   * or began its next request, in ms; then its connection is closed (with a 408) and counted
   * (reason `timeout`). Checked every second (every tenth of it when shorter), so a connection
   * may last up to a second longer. Default: `5000`; from 100 to 300 000. */
  requestTimeoutMs?: number;
  /** Time a kept-alive connection may sit idle between requests before it is closed, in ms.
   * Default: `5000`; from 100 to 300 000. */
  keepAliveTimeoutMs?: number;
  /** How long a render is reused for the scrapes that follow it, in ms: an answer shows the
   * series as they were at most this long (plus the time a render in flight takes) before the
   * scrape. Concurrent scrapes always share the render in flight; `0` shares only that.
   * Default: `1000`; from 0 to 10 000. */
  renderReuseMs?: number;
}

export interface ResolvedServerOptions {
  port: number;
  host: string;
  path: string;
  auth: MetricsAuth | undefined;
  registry: MetricsRegistry | undefined;
  layout: BucketLayout;
  hub: boolean;
  flushMs: number;
  runtime: MetricsRuntime;
  limits: ServerLimits;
}

/** The network edge's limits, resolved. */
export interface ServerLimits {
  maxConnections: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  renderReuseMs: number;
}

/** The defaults: room for an in-cluster Prometheus (an HA pair scraping every 15 s with a 10 s
 * timeout), a few more scrapers and health checks. */
export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxConnections: 64,
  requestTimeoutMs: 5_000,
  keepAliveTimeoutMs: 5_000,
  renderReuseMs: 1_000,
});

const LIMIT_RANGES: Readonly<Record<keyof ServerLimits, readonly [min: number, max: number]>> = {
  maxConnections: [1, 10_000],
  requestTimeoutMs: [100, 300_000],
  keepAliveTimeoutMs: [100, 300_000],
  renderReuseMs: [0, 10_000],
};

function limitOption(value: unknown, key: keyof ServerLimits): number {
  const [min, max] = LIMIT_RANGES[key];
  if (value === undefined) return DEFAULT_SERVER_LIMITS[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new MetricsConfigError(
      key,
      `expected an integer from ${min} to ${max}, got ${shown(value)}`,
    );
  }
  return value;
}

function authOption(auth: unknown): MetricsAuth | undefined {
  if (auth === undefined) return undefined;
  const a: object = typeof auth === 'object' && auth !== null ? auth : {};
  const bearerToken = readOption(a, 'bearerToken', 'auth.bearerToken');
  const username = readOption(a, 'username', 'auth.username');
  const password = readOption(a, 'password', 'auth.password');
  if (typeof bearerToken === 'string' && bearerToken.length > 0) return { bearerToken };
  if (typeof username === 'string' && username.length > 0 && typeof password === 'string') {
    return { username, password };
  }
  throw new MetricsConfigError(
    'auth',
    'expected { bearerToken } or { username, password } with non-empty values',
  );
}

function boundaries(values: unknown, option: string, extra: number[]): number[] {
  const list = readList(values, option, MAX_BUCKETS + 1);
  if (!list || list.length === 0)
    throw new MetricsConfigError(option, 'expected a non-empty array of numbers');
  if (list.length > MAX_BUCKETS)
    throw new MetricsConfigError(option, `expected at most ${MAX_BUCKETS} boundaries`);
  for (const v of list.items) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new MetricsConfigError(option, `expected positive finite numbers, got ${shown(v)}`);
    }
  }
  return [...new Set([...(list.items as number[]), ...extra])].sort((a, b) => a - b);
}

/** Histogram boundaries per family at the most (each costs a series per label set). */
const MAX_BUCKETS = 100;

/** Alert thresholds of `ms` stats, in seconds: added to the latency buckets. */
function latencyThresholdsSeconds(alerts: AlertRules | undefined): number[] {
  return resolveAlertRules(alerts)
    .filter((r) => r.metric !== 'error_rate' && statDef(r.metric).unit === 'ms')
    .flatMap((r) => [exportedValue('ms', r.warning), exportedValue('ms', r.critical)]);
}

export function resolveServerOptions(options: MetricsServerOptions): ResolvedServerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new MetricsConfigError('options', 'expected an options object');
  }
  const check = new ConfigCheck();
  // Each option is read once, through a reader that turns a throwing getter or Proxy into a
  // problem: nothing below touches the caller's object again.
  const o = readOptions(check, options, SERVER_OPTION_KEYS);
  const port = check.take(() => integerOption(o.port, 'port', 9464, 0, 65535), 0);
  const path = check.take(() => {
    const p = o.path ?? '/metrics';
    if (typeof p !== 'string' || !p.startsWith('/')) {
      throw new MetricsConfigError('path', `expected a path starting with "/", got ${shown(p)}`);
    }
    return p;
  }, '/metrics');
  const host = check.take(() => {
    const h = o.host ?? '0.0.0.0';
    if (typeof h !== 'string' || h.length === 0)
      throw new MetricsConfigError('host', 'expected a host name or address');
    return h;
  }, '0.0.0.0');
  const auth = check.take(() => authOption(o.auth), undefined);
  const flushMs = check.take(() => integerOption(o.flushMs, 'flushMs', 1_000, 10, 60_000), 1_000);
  const thresholds = check.take(
    () => latencyThresholdsSeconds(o.alerts as AlertRules | undefined),
    [],
  );
  const buckets = check.take(() => bucketsOption(o.buckets), {});
  const latency = check.take(
    () => boundaries(buckets.latency ?? DEFAULT_BUCKETS.latency, 'buckets.latency', thresholds),
    [],
  );
  const throughput = check.take(
    () => boundaries(buckets.throughput ?? DEFAULT_BUCKETS.throughput, 'buckets.throughput', []),
    [],
  );
  const registry = check.take(() => registryOption(o.registry), undefined);
  const runtime = check.take(() => {
    const r = o.runtime;
    if (r !== undefined && !isRuntime(r))
      throw new MetricsConfigError('runtime', 'expected a runtime from createMetricsRuntime()');
    return r ?? defaultMetricsRuntime();
  }, undefined);
  const limits = {} as ServerLimits;
  for (const key of Object.keys(LIMIT_RANGES) as (keyof ServerLimits)[]) {
    limits[key] = check.take(() => limitOption(o[key], key), DEFAULT_SERVER_LIMITS[key]);
  }
  const hub = check.take(() => {
    if (o.hub !== undefined && typeof o.hub !== 'boolean')
      throw new MetricsConfigError('hub', `expected true or false, got ${shown(o.hub)}`);
    return o.hub ?? true;
  }, true);
  check.done();
  return {
    port,
    host,
    path,
    auth,
    registry,
    layout: { latency, throughput },
    hub,
    flushMs,
    runtime: runtime!,
    limits,
  };
}

const SERVER_OPTION_KEYS = [
  'port',
  'host',
  'path',
  'auth',
  'registry',
  'buckets',
  'alerts',
  'hub',
  'flushMs',
  'runtime',
  ...(Object.keys(LIMIT_RANGES) as (keyof ServerLimits)[]),
] as const;

/** A plain snapshot of `keys` of `object`, each read once; one that cannot be read is a
 * problem (and reads as undefined). */
function readOptions<K extends string>(
  check: ConfigCheck,
  object: object,
  keys: readonly K[],
  prefix = '',
): Record<K, unknown> {
  const out = Object.create(null) as Record<K, unknown>;
  for (const key of keys) {
    out[key] = check.take(() => readOption(object, key, `${prefix}${key}`), undefined);
  }
  return out;
}

function bucketsOption(value: unknown): { latency?: unknown; throughput?: unknown } {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null)
    throw new MetricsConfigError('buckets', 'expected { latency?, throughput? }');
  return {
    latency: readOption(value, 'latency', 'buckets.latency'),
    throughput: readOption(value, 'throughput', 'buckets.throughput'),
  };
}

function registryOption(value: unknown): MetricsRegistry | undefined {
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'object' &&
    value !== null &&
    typeof readOption(value, 'metrics', 'registry.metrics') === 'function' &&
    typeof readOption(value, 'contentType', 'registry.contentType') === 'string';
  if (!ok) throw new MetricsConfigError('registry', 'expected a prom-client Registry');
  return value as MetricsRegistry;
}

/** A runtime from createMetricsRuntime(), from this copy of the module or another (the ESM and
 * CommonJS builds share the default one), so its shape, not its class. */
function isRuntime(value: unknown): value is MetricsRuntime {
  try {
    return typeof value === 'object' && value !== null && 'exporter' in value;
  } catch {
    return false;
  }
}
