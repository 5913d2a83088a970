import { getJobContext, type voice } from '@livekit/agents';
import { type ResolvedOptions, resolveOptions } from './config.js';
import { MetricsConfigError } from './errors.js';
import type { FrameworkContext } from './framework/index.js';
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
  MetricsSink,
  MetricsSummary,
  SessionMetricsEvents,
  StatName,
  Stats,
  TurnTimeline,
} from './types.js';
import { STAT_NAMES, COMPONENTS } from './types.js';
import { type ContainedFailure, Guard } from './util/guard.js';
import { Listeners } from './util/listeners.js';

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
  /** The one way to call what is not ours: sinks, listeners, the logger, the meter, the room. */
  private readonly guard: Guard;
  private readonly listener: SessionListener;
  private readonly alertTimer: ReturnType<typeof setInterval>;
  private readonly runtime: MetricsRuntime;
  private sinks: MetricsSink[] = [];
  /** The sinks that implement each method, so a sample costs no lookups of absent methods.
   * Empty until every sink has started: a failure while starting reaches no half-built list. */
  private sinksFor: { [M in SinkMethod]: MetricsSink[] } = {
    sample: [],
    request: [],
    turn: [],
    alert: [],
    health: [],
    usage: [],
    turnTaking: [],
  };
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
    this.guard = new Guard(opts.logger);
    this.listeners = new Listeners(this.guard);
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
    this.guard.reportTo((failure) => this.contained(failure));
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
    // the framework's internals (src/framework): a feature that finds them unknown turns off
    const framework: FrameworkContext = {
      guard: this.guard,
      featureDisabled: (feature, why) => {
        const disabled = this.core.health.disabledFeatures;
        if (feature in disabled) return;
        disabled[feature] = why.slice(0, 200);
        this.dispatch('health', { kind: 'feature_disabled', feature, why });
      },
    };
    this.listener = new SessionListener(session, {
      signal: (s) => this.ingest(s),
      odd: (field) => this.core.countOddField(field),
      internalError: (where, error) => this.internalError(where, error),
      framework,
    });
    this.alertTimer = setInterval(
      () => this.guard.run('plugin', 'alert_tick', () => this.core.evaluateAlerts(opts.now())),
      ALERT_TICK_MS,
    );
    this.alertTimer.unref?.();
    if (opts.acousticSpeechEnd) {
      this.probe = new InputAudioProbe(session, {
        now: opts.now,
        voiceStarted: (firstVoicedAt) =>
          this.ingest({ kind: 'user_audio_started', at: opts.now(), firstVoicedAt }),
        voiceEnded: (lastVoicedAt) =>
          this.ingest({ kind: 'user_audio_ended', at: opts.now(), lastVoicedAt }),
        framework,
      });
    }
    if (opts.audibleOutput) {
      this.outputProbe = new OutputAudioProbe(session, {
        now: opts.now,
        audible: (startedAt, audibleAt) =>
          this.ingest({ kind: 'agent_audio_out', at: opts.now(), startedAt, audibleAt }),
        framework,
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
    this.guard.run('plugin', 'input_audio_probe:close', () => this.probe?.close());
    this.guard.run('plugin', 'output_audio_probe:close', () => this.outputProbe?.close());
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
      const otel = this.guard.call('plugin', 'otel_start', () =>
        OtelSink.start(meter, opts.labels, this.runtime.exporter.layout, this.guard),
      );
      if (otel) sinks.push(otel);
    }
    if (opts.publish) {
      const publish = opts.publish;
      const publisher = this.guard.call('plugin', 'publisher_start', () =>
        RoomPublisher.start(publish, {
          summary: () => this.core.summary(),
          lastTurn: () => this.core.lastTurn(),
          now: opts.now,
          guard: this.guard,
          sent: (type) => this.dispatch('health', { kind: 'message_sent', type }),
          adjusted: (kind, action) =>
            this.dispatch('health', { kind: 'wire_value_adjusted', valueKind: kind, action }),
          dropped: (reason) => {
            const dropped = this.core.health.droppedMessages;
            dropped[reason] = (dropped[reason] ?? 0) + 1;
            this.dispatch('health', { kind: 'message_dropped', reason });
          },
        }),
      );
      if (publisher) sinks.push((this.publisher = publisher));
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
    return this.guard.call('plugin', 'heard_start', () => {
      return new CallerReports(
        { room: publish.room, topic: publish.topic, ...(from ? { from } : {}) },
        {
          now: opts.now,
          guard: this.guard,
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
            this.guard.run('plugin', 'heard_republish', () => this.publisher?.turn(turn));
          },
        },
      );
    });
  }

  /** Hands one event to every sink that takes it, through the guard (a throw or a rejected
   * promise of one sink is contained; the others still get the event). */
  private dispatch<M extends SinkMethod>(method: M, arg: SinkArg<M>): void {
    for (const sink of this.sinksFor[method]) {
      this.guard.call('sink', SINK_WHERE[method], () =>
        (sink[method] as (a: SinkArg<M>) => unknown).call(sink, arg),
      );
    }
  }

  /** A failure the guard contained: counted in health, and told to the sinks. */
  private contained(failure: ContainedFailure): void {
    const health = this.core.health;
    health.internalErrors += 1;
    const key = `${failure.source}:${failure.reason}`;
    health.containedErrors[key] = (health.containedErrors[key] ?? 0) + 1;
    // a health sink that fails is not told about its own failure again (no loop)
    if (failure.where === SINK_WHERE.health) return;
    this.dispatch('health', { kind: 'internal_error', ...failure });
  }

  /** In a job process, the job's last turns reach the worker's hub before the process exits. */
  private drainAtJobShutdown(): void {
    this.guard.run('framework', 'job_shutdown_hook', () =>
      getJobContext(false)?.addShutdownCallback(() => this.runtime.exporter.drain()),
    );
  }

  private ingest(signal: Signal): void {
    this.guard.run('plugin', signal.kind, () => this.core.ingest(signal));
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
    this.guard.run('plugin', 'close_sinks', () => {
      const summary = this.core.summary();
      for (const sink of this.sinks)
        this.guard.call('sink', 'sink:close', () => sink.close?.(summary));
    });
    this.runtime.exporter.flushSoon();
  }

  /** A failure the plugin's own parts caught (the session listener, the audio probes). */
  private internalError(where: string, error: unknown): void {
    this.guard.fail(
      { source: /^(on|off):/.test(where) ? 'framework' : 'plugin', reason: 'threw', where },
      error,
    );
  }
}

const SINK_WHERE: { readonly [M in SinkMethod]: string } = {
  sample: 'sink:sample',
  request: 'sink:request',
  turn: 'sink:turn',
  alert: 'sink:alert',
  health: 'sink:health',
  usage: 'sink:usage',
  turnTaking: 'sink:turnTaking',
};

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
