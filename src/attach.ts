import { getJobContext, type voice } from '@livekit/agents';
import { type ResolvedOptions, resolveOptions } from './config.js';
import { MetricsConfigError } from './errors.js';
import { CallerReports } from './heard/caller-reports.js';
import { InputAudioProbe } from './heard/input-audio-probe.js';
import { OutputAudioProbe } from './heard/output-audio-probe.js';
import { SessionListener, type SessionLike } from './ingest/session-listener.js';
import type { Signal } from './ingest/signals.js';
import { MetricsCore } from './metrics-core.js';
import { OtelSink } from './otel/otel-sink.js';
import { RoomPublisher } from './publish/room-publisher.js';
import type { MetricsRuntime } from './runtime.js';
import type { AttachMetricsOptions } from './options.js';
import type {
  BottleneckComponent,
  Component,
  HealthEvent,
  MetricsSink,
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

type SinkMethod = Exclude<keyof MetricsSink, 'close'>;
type SinkArg<M extends SinkMethod> = Parameters<NonNullable<MetricsSink[M]>>[0];

/**
 * Live metrics of one AgentSession. Obtain it from {@link attachMetrics}. Reading methods are
 * cheap and never throw; listeners registered with `on` are called synchronously, and an
 * exception in one is contained and logged once.
 *
 * Data flow: session events → signals (`ingest`) → the core (turns, stats, alerts) → every sink:
 * Prometheus series, OpenTelemetry, the room publisher, the `on(...)` listeners and your own.
 */
export class SessionMetrics {
  private readonly core: MetricsCore;
  private readonly listeners: Listeners<SessionMetricsEvents>;
  private readonly logOnce: LogOnce;
  private readonly listener: SessionListener;
  private readonly alertTimer: ReturnType<typeof setInterval>;
  private readonly runtime: MetricsRuntime;
  private readonly sinks: MetricsSink[];
  /** The sinks that implement each method, so a sample costs no lookups of absent methods. */
  private readonly sinksFor: { [M in SinkMethod]: MetricsSink[] };
  private sessionOpen = true;
  private closed = false;
  private publisher: RoomPublisher | undefined;
  private readonly probe: InputAudioProbe | undefined;
  private readonly outputProbe: OutputAudioProbe | undefined;

  /** @internal use {@link attachMetrics} */
  constructor(
    private readonly session: SessionLike,
    opts: ResolvedOptions,
  ) {
    this.runtime = opts.runtime;
    this.logOnce = new LogOnce(opts.logger);
    this.listeners = new Listeners((event, error) => {
      this.logOnce.warn(
        `listener:${String(event)}`,
        { event, error: describe(error) },
        'a metrics listener threw',
      );
    });
    this.core = new MetricsCore(
      opts,
      {
        turn: (t) => this.dispatch('turn', t),
        alert: (a) => this.dispatch('alert', a),
        sample: (s) => this.dispatch('sample', s),
        request: (component, outcome, provider) =>
          this.dispatch('request', {
            component,
            outcome,
            provider: provider?.provider,
            model: provider?.model,
          }),
        oddField: (field) => this.dispatch('health', { kind: 'odd_field', field }),
        dropped: (reason) => this.dispatch('health', { kind: 'dropped_sample', reason }),
        usage: (e) => this.dispatch('usage', e),
        turnTaking: (e) => this.dispatch('turnTaking', e),
      },
      this.runtime.sessions,
    );
    this.sinks = this.startSinks(opts);
    this.sinksFor = {
      sample: this.sinks.filter((s) => s.sample),
      request: this.sinks.filter((s) => s.request),
      turn: this.sinks.filter((s) => s.turn),
      alert: this.sinks.filter((s) => s.alert),
      health: this.sinks.filter((s) => s.health),
      usage: this.sinks.filter((s) => s.usage),
      turnTaking: this.sinks.filter((s) => s.turnTaking),
    };
    this.runtime.sessions.opened();
    if (opts.prometheus && this.runtime.deliversToHub) this.drainAtJobShutdown();
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
    if (opts.acousticSpeechEnd) {
      this.probe = new InputAudioProbe(session, {
        now: opts.now,
        voiceEnded: (lastVoicedAt) =>
          this.ingest({ kind: 'user_audio_ended', at: opts.now(), lastVoicedAt }),
        internalError: (where, error) => this.internalError(where, error),
      });
    }
    if (opts.audibleOutput) {
      this.outputProbe = new OutputAudioProbe(session, {
        now: opts.now,
        audible: (startedAt, audibleAt) =>
          this.ingest({ kind: 'agent_audio_out', at: opts.now(), startedAt, audibleAt }),
        internalError: (where, error) => this.internalError(where, error),
      });
    }
  }

  /** Statistics of one series since attach, in its unit (ms; tokens/s for `tokens_per_sec`). */
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
    this.probe?.close();
    this.outputProbe?.close();
    this.listener.detach();
    this.markSessionClosed();
    this.listeners.clear();
    const attached = this.runtime.attachedSessions;
    if (attached.get(this.session) === this) attached.delete(this.session);
  }

  /** Prometheus, OpenTelemetry, the room publisher, the `on(...)` listeners, then the user's. */
  private startSinks(opts: ResolvedOptions): MetricsSink[] {
    const sinks: MetricsSink[] = [];
    if (opts.prometheus) sinks.push(this.runtime.exporter.sinkFor(opts.labels));
    if (opts.otelMeter) {
      const meter = opts.otelMeter;
      this.guard('otel_start', () =>
        sinks.push(new OtelSink(meter, opts.labels, this.runtime.exporter.layout)),
      );
    }
    if (opts.publish) {
      const publish = opts.publish;
      this.guard('publisher_start', () =>
        sinks.push(
          (this.publisher = new RoomPublisher(publish, {
            summary: () => this.core.summary(),
            lastTurn: () => this.core.lastTurn(),
            now: opts.now,
            logOnce: this.logOnce,
            sent: (type) => this.dispatch('health', { kind: 'message_sent', type }),
            dropped: (reason) => {
              const dropped = this.core.health.droppedMessages;
              dropped[reason] = (dropped[reason] ?? 0) + 1;
              this.dispatch('health', { kind: 'message_dropped', reason });
            },
          })),
        ),
      );
      const reports =
        opts.heardLatency && this.startCallerReports(publish, opts.heardLatency.from, opts);
      if (reports) sinks.push(reports);
    }
    const listeners = this.listeners;
    sinks.push({
      turn: (t) => listeners.emit('turn', t),
      alert: (a) => listeners.emit('alert', a),
      sample: (s) => {
        if (listeners.has('sample')) listeners.emit('sample', s);
      },
    });
    sinks.push(...opts.sinks);
    return sinks;
  }

  /** Heard-latency reports from callers (src/heard/): a sink of completed turns, to match them. */
  private startCallerReports(
    publish: NonNullable<ResolvedOptions['publish']>,
    from: string[] | undefined,
    opts: ResolvedOptions,
  ): CallerReports | undefined {
    let reports: CallerReports | undefined;
    this.guard('heard_start', () => {
      reports = new CallerReports(
        { room: publish.room, topic: publish.topic, ...(from ? { from } : {}) },
        {
          now: opts.now,
          logOnce: this.logOnce,
          sample: (sample) => this.core.recordSample(sample),
          rejected: (why) => {
            const reason = `heard_latency:${why}`;
            const dropped = this.core.health.droppedSamples;
            dropped[reason] = (dropped[reason] ?? 0) + 1;
            this.dispatch('health', { kind: 'dropped_sample', reason });
          },
          amended: (turn) => {
            this.core.amendTurn(turn);
            // only the room hears it again: stats, Prometheus and listeners counted the turn
            this.guard('heard_republish', () => this.publisher?.turn(turn));
          },
        },
      );
    });
    return reports;
  }

  /** Hands one event to every sink that takes it; a sink that throws is contained. */
  private dispatch<M extends SinkMethod>(method: M, arg: SinkArg<M>): void {
    for (const sink of this.sinksFor[method]) {
      try {
        (sink[method] as (a: SinkArg<M>) => void).call(sink, arg);
      } catch (error) {
        // a health sink that throws is not told about its own failure again
        this.internalError(`sink:${method}`, error, method !== 'health');
      }
    }
  }

  /** In a job process, the job's last turns reach the worker's hub before the process exits. */
  private drainAtJobShutdown(): void {
    try {
      getJobContext(false)?.addShutdownCallback(() => this.runtime.exporter.drain());
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
      clearInterval(this.alertTimer);
    }
  }

  /** The session ended (or metrics were detached): sinks get the last summary, once. */
  private markSessionClosed(): void {
    if (!this.sessionOpen) return;
    this.sessionOpen = false;
    this.runtime.sessions.closed();
    this.guard('close_sinks', () => {
      const summary = this.core.summary();
      for (const sink of this.sinks) this.guard('sink:close', () => sink.close?.(summary));
    });
    this.runtime.exporter.flushSoon();
  }

  private guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.internalError(where, error);
    }
  }

  private internalError(where: string, error: unknown, tellSinks = true): void {
    this.core.health.internalErrors += 1;
    if (tellSinks) this.dispatch('health', { kind: 'internal_error', where } as HealthEvent);
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
  const resolved = resolveOptions(options);
  const attached = resolved.runtime.attachedSessions;
  const previous = attached.get(candidate) as SessionMetrics | undefined;
  if (previous && !previous.isClosed) {
    throw new MetricsConfigError(
      'session',
      'metrics are already attached to this session; reuse that handle or close() it first',
    );
  }
  const metrics = new SessionMetrics(candidate, resolved);
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

/** A thrown value as text. Never throws itself: a hostile error's getters and conversions may. */
function describe(error: unknown): string {
  try {
    if (error instanceof Error) return `${String(error.name)}: ${String(error.message)}`;
    return String(error);
  } catch {
    try {
      return Object.prototype.toString.call(error);
    } catch {
      return 'unprintable error';
    }
  }
}
