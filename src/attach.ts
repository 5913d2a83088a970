import { getJobContext, type voice } from '@livekit/agents';
import { type ResolvedOptions, resolveOptions } from './config.js';
import { MetricsConfigError } from './errors.js';
import { SessionListener, type SessionLike } from './ingest/session-listener.js';
import type { Signal } from './ingest/signals.js';
import { MetricsCore } from './metrics-core.js';
import { processExporter } from './prometheus/process-exporter.js';
import type { SessionSeriesSink } from './prometheus/series-sink.js';
import { RoomPublisher } from './publish/room-publisher.js';
import { processSessions } from './stats/session-gauge.js';
import type {
  AttachMetricsOptions,
  BottleneckComponent,
  Component,
  MetricsSummary,
  SessionMetricsEvents,
  StatName,
  Stats,
  TurnTimeline,
} from './types.js';
import { STAT_NAMES, COMPONENTS } from './types.js';
import { Listeners } from './util/listeners.js';
import { LogOnce } from './util/log-once.js';

/** Alert rules are re-evaluated this often, so an alert clears as its window slides. */
const ALERT_TICK_MS = 1_000;

const attached = new WeakMap<object, SessionMetrics>();

/**
 * Live metrics of one AgentSession. Obtain it from {@link attachMetrics}. Reading methods are
 * cheap and never throw; listeners registered with `on` are called synchronously, and an
 * exception in one is contained and logged once.
 */
export class SessionMetrics {
  private readonly core: MetricsCore;
  private readonly listeners: Listeners<SessionMetricsEvents>;
  private readonly logOnce: LogOnce;
  private readonly listener: SessionListener;
  private readonly alertTimer: ReturnType<typeof setInterval>;
  private readonly series: SessionSeriesSink | undefined;
  private readonly publisher: RoomPublisher | undefined;
  private sessionOpen = true;
  private closed = false;

  /** @internal use {@link attachMetrics} */
  constructor(
    private readonly session: SessionLike,
    opts: ResolvedOptions,
  ) {
    this.logOnce = new LogOnce(opts.logger);
    this.listeners = new Listeners((event, error) => {
      this.logOnce.warn(
        `listener:${String(event)}`,
        { event, error: describe(error) },
        'a metrics listener threw',
      );
    });
    const series = opts.prometheus ? processExporter().sinkFor(opts.labels) : undefined;
    this.series = series;
    this.core = new MetricsCore(opts, {
      turn: (t) => {
        this.publisher?.turn(t);
        this.listeners.emit('turn', t);
      },
      alert: (a) => {
        this.publisher?.alert(a);
        this.listeners.emit('alert', a);
      },
      sample: (s) => {
        series?.sample(s);
        if (this.listeners.has('sample')) this.listeners.emit('sample', s);
      },
      request:
        series && ((component, outcome, provider) => series.request(component, outcome, provider)),
      oddField: series && ((field) => series.oddField(field)),
      dropped: series && ((reason) => series.dropped(reason)),
    });
    processSessions.opened();
    this.publisher = opts.publish && this.startPublisher(opts);
    if (series && processExporter().deliversToHub) this.drainAtJobShutdown();
    this.listener = new SessionListener(session, {
      signal: (s) => this.ingest(s),
      odd: (field) => this.core.countOddField(field),
      internalError: (where, error) => this.internalError(where, error),
    });
    this.alertTimer = setInterval(
      () => this.guard('alert_tick', () => this.core.evaluateAlerts(opts.now())),
      ALERT_TICK_MS,
    );
    this.alertTimer.unref?.();
  }

  /** Statistics of one series since attach, in ms (tokens/s for `tokens_per_sec`). */
  stats(name: StatName): Stats {
    assertOneOf(name, STAT_NAMES, 'stats(name)');
    return this.core.stats(name);
  }

  /** errors / requests × 100 for a component since attach; `null` before its first request. */
  errorRate(component: Component): number | null {
    assertOneOf(component, COMPONENTS, 'errorRate(component)');
    return this.core.errorRate(component);
  }

  /** JSON-serializable snapshot of everything (the spec's export_metrics(), extended). */
  summary(): MetricsSummary {
    return this.core.summary();
  }

  /** The component with the highest p90 latency, or undefined without data. */
  bottleneck(): BottleneckComponent | undefined {
    return this.core.bottleneck();
  }

  /** The most recent completed turns (at most `maxTurns`), oldest first. */
  turns(): TurnTimeline[] {
    return this.core.turns();
  }

  on<K extends keyof SessionMetricsEvents>(event: K, listener: SessionMetricsEvents[K]): this {
    this.listeners.on(event, listener);
    return this;
  }

  off<K extends keyof SessionMetricsEvents>(event: K, listener: SessionMetricsEvents[K]): this {
    this.listeners.off(event, listener);
    return this;
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Detaches from the session and removes every listener. Idempotent; stats stay readable. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.alertTimer);
    this.listener.detach();
    this.markSessionClosed();
    this.guard('publish_final', () => this.publisher?.finish());
    this.listeners.clear();
    if (attached.get(this.session) === this) attached.delete(this.session);
  }

  private startPublisher(opts: ResolvedOptions): RoomPublisher | undefined {
    try {
      return new RoomPublisher(opts.publish!, {
        summary: () => this.core.summary(),
        lastTurn: () => this.core.lastTurn(),
        now: opts.now,
        logOnce: this.logOnce,
        sent: this.series && ((type) => this.series!.messageSent(type)),
        dropped: (reason) => {
          const dropped = this.core.health.dropped_messages;
          dropped[reason] = (dropped[reason] ?? 0) + 1;
          this.series?.messageDropped(reason);
        },
      });
    } catch (error) {
      this.internalError('publisher_start', error);
      return undefined;
    }
  }

  /** In a job process, the job's last turns reach the worker's hub before the process exits. */
  private drainAtJobShutdown(): void {
    try {
      getJobContext(false)?.addShutdownCallback(() => processExporter().drain());
    } catch (error) {
      this.internalError('job_shutdown_hook', error);
    }
  }

  private ingest(signal: Signal): void {
    try {
      this.core.ingest(signal);
    } catch (error) {
      this.internalError(signal.kind, error);
    }
    if (signal.kind === 'session_closed') {
      this.markSessionClosed();
      this.guard('publish_final', () => this.publisher?.finish());
      clearInterval(this.alertTimer);
    }
  }

  private markSessionClosed(): void {
    if (!this.sessionOpen) return;
    this.sessionOpen = false;
    processSessions.closed();
    if (this.series) processExporter().flushSoon();
  }

  private guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.internalError(where, error);
    }
  }

  private internalError(where: string, error: unknown): void {
    this.core.health.internal_errors += 1;
    this.series?.internalError();
    this.logOnce.warn(
      `internal:${where}`,
      { where, error: describe(error) },
      'metrics handling failed; the agent is unaffected',
    );
  }
}

/**
 * Attaches metrics to a `voice.AgentSession`, before or after `session.start()`. Options are
 * validated here: an invalid one throws a {@link MetricsConfigError}. After that, nothing the
 * plugin does throws into the session.
 */
export function attachMetrics(
  session: voice.AgentSession,
  options: AttachMetricsOptions = {},
): SessionMetrics {
  const candidate = session as unknown as SessionLike | null;
  if (!candidate || typeof candidate.on !== 'function' || typeof candidate.off !== 'function') {
    throw new MetricsConfigError('session', 'expected a voice.AgentSession from @livekit/agents');
  }
  const previous = attached.get(candidate);
  if (previous && !previous.isClosed) {
    throw new MetricsConfigError(
      'session',
      'metrics are already attached to this session; reuse that handle or close() it first',
    );
  }
  const metrics = new SessionMetrics(candidate, resolveOptions(options));
  attached.set(candidate, metrics);
  return metrics;
}

function assertOneOf<T extends string>(value: T, allowed: readonly T[], where: string): void {
  if (!allowed.includes(value)) {
    throw new MetricsConfigError(
      where,
      `unknown "${String(value)}"; use one of ${allowed.join(', ')}`,
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
