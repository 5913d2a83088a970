/**
 * The process's metrics runtime: the state that sessions and the metrics server share — the
 * sessions gauge, the Prometheus series every session records into, and the link to the
 * worker's hub. It is an explicit object: `attachMetrics(session, { runtime })` and
 * `startMetricsServer({ runtime })` take one, and both default to the process's default runtime,
 * so the quick start stays one line and either may be called first.
 */
import { MetricsConfigError } from './errors.js';
import { HUB_ENV, type HubAddress, parseHubAddress } from './prometheus/hub/protocol.js';
import { type BucketLayout, DEFAULT_BUCKETS } from './prometheus/metric-families.js';
import { ProcessExporter } from './prometheus/process-exporter.js';
import { SessionGauge } from './stats/session-gauge.js';

/** Bumped when the runtime's shape changes, so two copies of the package that would share a
 * default runtime they read differently fail loudly instead. */
const RUNTIME_SHAPE = 1;

/** Options of {@link createMetricsRuntime}. */
export interface MetricsRuntimeOptions {
  /**
   * Where a job process finds its worker's hub: `'environment'` reads the hand-off variable the
   * worker's `startMetricsServer` sets for the job processes it forks (once, now); `false` keeps
   * every sample in this runtime. Default: `'environment'`.
   */
  hub?: 'environment' | false;
}

export class MetricsRuntime {
  /** @internal */
  readonly shape = RUNTIME_SHAPE;
  /** @internal sessions attached to this runtime that have not closed */
  readonly sessions = new SessionGauge();
  /** @internal the Prometheus series and hub client */
  readonly exporter: ProcessExporter;
  /** @internal sessions with metrics attached, so a second attach is refused */
  readonly attachedSessions = new WeakMap<object, { readonly isClosed: boolean }>();

  /** @internal use {@link createMetricsRuntime} */
  constructor(hubAddress: HubAddress | undefined) {
    this.exporter = new ProcessExporter(
      hubAddress?.layout ?? DEFAULT_BUCKETS,
      this.sessions,
      hubAddress,
    );
  }

  /** Whether this runtime delivers its samples to a worker's hub (it runs in a job process). */
  get deliversToHub(): boolean {
    return this.exporter.deliversToHub;
  }

  /** @internal called by startMetricsServer: this runtime's series are served from here. */
  serveHere(layout: BucketLayout): ProcessExporter {
    try {
      this.exporter.serveHere(layout);
    } catch (error) {
      throw new MetricsConfigError(
        'buckets',
        `${(error as Error).message}: pass the same buckets to every startMetricsServer of a ` +
          'runtime, or start the server before sessions record',
      );
    }
    return this.exporter;
  }
}

/** A fresh runtime: for tests, or to keep two groups of sessions apart in one process. */
export function createMetricsRuntime(options: MetricsRuntimeOptions = {}): MetricsRuntime {
  const hub = options.hub ?? 'environment';
  if (hub !== 'environment' && hub !== false) {
    throw new MetricsConfigError('hub', `expected 'environment' or false, got ${String(hub)}`);
  }
  return new MetricsRuntime(
    hub === 'environment' ? parseHubAddress(process.env[HUB_ENV]) : undefined,
  );
}

/** Where the default runtime lives: on the global object, so that a process that loads both the
 * ESM and the CommonJS build of this package still has one runtime. */
const DEFAULT_KEY = Symbol.for('livekit-agents-metrics.default-runtime');

/**
 * The process's default runtime, created on first use. Throws if another copy of the package of
 * an incompatible version already created it.
 */
export function defaultMetricsRuntime(): MetricsRuntime {
  const slot = globalThis as { [DEFAULT_KEY]?: MetricsRuntime };
  const existing = slot[DEFAULT_KEY];
  if (existing) {
    if (existing.shape !== RUNTIME_SHAPE) {
      throw new MetricsConfigError(
        'runtime',
        `two incompatible copies of livekit-agents-metrics are loaded in this process (runtime ` +
          `shape ${String(existing.shape)} vs ${RUNTIME_SHAPE}); dedupe the package`,
      );
    }
    return existing;
  }
  const created = createMetricsRuntime();
  slot[DEFAULT_KEY] = created;
  return created;
}
