import { AlertEvaluator } from './alerts/alert-evaluator.js';
import { findBottleneck } from './analysis/bottleneck.js';
import type { ResolvedOptions } from './config.js';
import type { Signal } from './ingest/signals.js';
import { Distribution } from './stats/distribution.js';
import { type RequestListener, RequestLedger } from './stats/request-ledger.js';
import { WindowedQuantile } from './stats/windowed-quantile.js';
import type { SessionGauge } from './stats/session-gauge.js';
import { TurnTakingTracker } from './turns/turn-taking.js';
import { TurnTracker } from './turns/turn-tracker.js';
import { UsageMeter } from './usage/usage-meter.js';
import {
  COMPONENTS,
  type AlertEvent,
  type BottleneckComponent,
  type Component,
  type MetricSample,
  type MetricsSummary,
  type PluginHealth,
  STAT_NAMES,
  type StatName,
  type Stats,
  type TurnTakingEvent,
  type TurnTimeline,
  type UsageEvent,
} from './types.js';

export interface CoreListeners {
  turn?: (turn: TurnTimeline) => void;
  alert?: (alert: AlertEvent) => void;
  sample?: (sample: MetricSample) => void;
  request?: RequestListener;
  oddField?: (field: string) => void;
  dropped?: (reason: string) => void;
  usage?: (event: UsageEvent) => void;
  turnTaking?: (event: TurnTakingEvent) => void;
}

interface FunctionNameStats {
  /** Executions that ended (ok or error); cancelled ones are left out. */
  calls: number;
  errors: number;
  /** Durations that reached the stats (interrupted turns' included, cancelled calls not). */
  samples: number;
  totalMs: number;
}

const OTHER_FUNCTIONS = 'other';

/**
 * The pure core of one session's metrics: signals in; stats, turns, error rates and alerts out.
 * No timers, no I/O, no framework objects; time comes from the signals and the injected clock.
 */
export class MetricsCore {
  private readonly tracker: TurnTracker;
  private readonly turnTaking: TurnTakingTracker;
  private readonly usage: UsageMeter;
  private readonly ledger: RequestLedger;
  private readonly lifetime = new Map<StatName, Distribution>();
  private readonly windows = new Map<StatName, WindowedQuantile>();
  private readonly alerts: AlertEvaluator;
  private readonly recentTurns: TurnTimeline[] = [];
  private readonly byFunction = new Map<string, FunctionNameStats>();
  private turnCount = 0;
  private interruptedTurns = 0;
  private cancelledTurns = 0;
  /** Series with samples not yet seen by the alert rules. */
  private readonly dirty = new Set<StatName>();
  readonly health: PluginHealth = {
    oddFields: Object.create(null) as Record<string, number>,
    internalErrors: 0,
    containedErrors: Object.create(null) as Record<string, number>,
    disabledFeatures: Object.create(null) as Record<string, string>,
    droppedSamples: Object.create(null) as Record<string, number>,
    droppedMessages: Object.create(null) as Record<string, number>,
  };

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly listeners: CoreListeners = {},
    /** Sessions of the runtime, for the summary's concurrency. */
    private readonly sessions: Pick<SessionGauge, 'active' | 'peak'> = { active: 0, peak: 0 },
  ) {
    for (const name of STAT_NAMES) {
      this.lifetime.set(name, new Distribution(opts.exactSamples));
      this.windows.set(
        name,
        new WindowedQuantile(opts.alertWindowMs, Math.max(1, opts.exactSamples)),
      );
    }
    this.alerts = new AlertEvaluator(opts.alertHysteresis);
    this.ledger = new RequestLedger(opts.alertWindowMs, listeners.request);
    this.usage = new UsageMeter(opts.prices, (e) => this.listeners.usage?.(e));
    this.turnTaking = new TurnTakingTracker({
      sample: (s) => this.addSample(s),
      event: (e) => this.listeners.turnTaking?.(e),
    });
    this.tracker = new TurnTracker({
      sample: (s) => this.addSample(s),
      turn: (t) => this.addTurn(t),
      toolOutcome: (name, outcome) => {
        this.ledger.toolOutcome(outcome, this.opts.now());
        if (outcome !== 'cancelled') this.countFunction(name, outcome === 'error');
      },
      discarded: (id) => this.usage.discardTurn(id),
    });
  }

  ingest(signal: Signal): void {
    this.ledger.handle(signal);
    // usage first: the turn this report belongs to may end with it
    this.usage.handle(signal);
    this.turnTaking.handle(signal);
    this.tracker.handle(signal);
    // Alerts are evaluated when a turn ends, at once on an error, and by the owner's periodic
    // tick (evaluateAlerts) while the window slides.
    if (signal.kind === 'error') this.evaluateAlerts(this.opts.now(), true);
  }

  countOddField(field: string): void {
    this.health.oddFields[field] = (this.health.oddFields[field] ?? 0) + 1;
    this.listeners.oddField?.(field);
  }

  stats(name: StatName): Stats {
    return this.lifetime.get(name)!.stats();
  }

  errorRate(component: Component): number | null {
    return this.ledger.snapshot(component).errorRate;
  }

  bottleneck(): BottleneckComponent | undefined {
    return findBottleneck((name) => this.stats(name));
  }

  turns(): TurnTimeline[] {
    return this.recentTurns.map((t) => structuredClone(t));
  }

  lastTurn(): TurnTimeline | undefined {
    const last = this.recentTurns.at(-1);
    return last && structuredClone(last);
  }

  /**
   * Evaluates the alert rules against the rolling window ending at `now`: every rule (as the
   * window slides, values change without new samples), or with `onlyChanged` just the rules
   * whose series received samples since the last evaluation.
   */
  evaluateAlerts(now: number, onlyChanged = false): void {
    const changedComponents = this.ledger.takeChanged();
    const changed = new Set(this.dirty);
    this.dirty.clear();
    for (const rule of this.opts.alertRules) {
      if (rule.metric === 'error_rate') {
        for (const component of onlyChanged ? changedComponents : COMPONENTS) {
          const { requests, errors } = this.ledger.windowCounts(component, now);
          this.emitAlerts(
            this.alerts.observe(
              {
                rule,
                component,
                value: requests > 0 ? (errors / requests) * 100 : undefined,
                count: requests,
                minCount: this.opts.alertMinRequests,
              },
              now,
            ),
          );
        }
        continue;
      }
      if (onlyChanged && !changed.has(rule.metric)) continue;
      const window = this.windows.get(rule.metric)!;
      this.emitAlerts(
        this.alerts.observe(
          {
            rule,
            value: window.quantile(0.9, now),
            count: window.count(now),
            minCount: this.opts.alertMinSamples,
          },
          now,
        ),
      );
    }
  }

  summary(): MetricsSummary {
    // each series' stats and each component's counts are computed once per snapshot
    const stats = Object.fromEntries(STAT_NAMES.map((name) => [name, this.stats(name)])) as Record<
      StatName,
      Stats
    >;
    const components = Object.fromEntries(
      COMPONENTS.map((c) => [c, this.ledger.snapshot(c)]),
    ) as MetricsSummary['components'];
    // keyed by tool names an LLM may have invented: no prototype to collide with
    const functions: MetricsSummary['functions'] = Object.create(null);
    for (const [name, s] of this.byFunction) {
      functions[name] = {
        count: s.calls,
        errors: s.errors,
        avg: s.samples ? s.totalMs / s.samples : null,
      };
    }
    return {
      v: 2,
      at: this.opts.now(),
      labels: { ...this.opts.labels },
      turns: this.turnCount,
      interruptedTurns: this.interruptedTurns,
      cancelledTurns: this.cancelledTurns,
      stats,
      components,
      functions,
      concurrency: {
        activeSessions: this.sessions.active,
        peakSessions: this.sessions.peak,
        activeTools: this.tracker.activeTools,
        peakTools: this.tracker.peakTools,
      },
      turnTaking: { ...this.turnTaking.counts },
      usage: this.usage.summary(),
      bottleneck: findBottleneck((name) => stats[name]) ?? null,
      alerts: this.alerts.list(),
      health: {
        oddFields: { ...this.health.oddFields },
        internalErrors: this.health.internalErrors,
        containedErrors: { ...this.health.containedErrors },
        disabledFeatures: { ...this.health.disabledFeatures },
        droppedSamples: { ...this.health.droppedSamples },
        droppedMessages: { ...this.health.droppedMessages },
      },
    };
  }

  /** A sample measured outside the session's events (a caller's heard latency): it goes the
   * way of every other sample. */
  recordSample(sample: MetricSample): void {
    this.addSample(sample);
  }

  /** A completed turn learned more (its heard-latency stages): the kept copy is replaced. */
  amendTurn(turn: TurnTimeline): void {
    const i = this.recentTurns.findIndex((t) => t.id === turn.id);
    if (i >= 0) this.recentTurns[i] = turn;
  }

  private addSample(sample: MetricSample): void {
    if (!Number.isFinite(sample.value) || sample.value < 0) {
      const reason = `${sample.stat}:${Number.isFinite(sample.value) ? 'negative' : 'not_finite'}`;
      this.health.droppedSamples[reason] = (this.health.droppedSamples[reason] ?? 0) + 1;
      this.listeners.dropped?.(reason);
      return;
    }
    this.lifetime.get(sample.stat)!.add(sample.value);
    this.windows.get(sample.stat)!.add(sample.at, sample.value);
    this.dirty.add(sample.stat);
    if (sample.stat === 'function_execution' && sample.functionName !== undefined) {
      const entry = this.functionEntry(sample.functionName);
      entry.samples += 1;
      entry.totalMs += sample.value;
    }
    this.listeners.sample?.(sample);
  }

  private countFunction(name: string, isError: boolean): void {
    const entry = this.functionEntry(name);
    entry.calls += 1;
    if (isError) entry.errors += 1;
  }

  private functionEntry(name: string): FunctionNameStats {
    let key = name;
    if (!this.byFunction.has(key) && this.byFunction.size >= this.opts.maxFunctionNames) {
      key = OTHER_FUNCTIONS;
    }
    let entry = this.byFunction.get(key);
    if (!entry) {
      entry = { calls: 0, errors: 0, samples: 0, totalMs: 0 };
      this.byFunction.set(key, entry);
    }
    return entry;
  }

  private addTurn(turn: TurnTimeline): void {
    const usage = this.usage.takeTurn(turn.id);
    if (usage) turn.usage = usage;
    this.turnCount += 1;
    if (turn.interrupted) this.interruptedTurns += 1;
    else if (turn.cancelled) this.cancelledTurns += 1;
    if (this.opts.maxTurns > 0) {
      this.recentTurns.push(turn);
      if (this.recentTurns.length > this.opts.maxTurns) this.recentTurns.shift();
    }
    this.listeners.turn?.(turn);
    this.evaluateAlerts(this.opts.now(), true);
  }

  private emitAlerts(events: AlertEvent[]): void {
    for (const e of events) this.listeners.alert?.(e);
  }
}
