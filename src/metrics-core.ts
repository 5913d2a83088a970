import { AlertEvaluator } from './alerts/alert-evaluator.js';
import { findBottleneck } from './analysis/bottleneck.js';
import type { ResolvedOptions } from './config.js';
import type { Signal } from './ingest/signals.js';
import { Distribution } from './stats/distribution.js';
import { type RequestListener, RequestLedger } from './stats/request-ledger.js';
import { WindowedQuantile } from './stats/windowed-quantile.js';
import { processSessions } from './stats/session-gauge.js';
import { TurnTracker } from './turns/turn-tracker.js';
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
  type TurnTimeline,
} from './types.js';

export interface CoreListeners {
  turn?: (turn: TurnTimeline) => void;
  alert?: (alert: AlertEvent) => void;
  sample?: (sample: MetricSample) => void;
  request?: RequestListener;
  oddField?: (field: string) => void;
  dropped?: (reason: string) => void;
}

interface FunctionNameStats {
  /** Executions that ended (ok or error); cancelled ones are left out. */
  calls: number;
  errors: number;
  /** Durations that reached the stats (none from interrupted turns). */
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
    odd_fields: {},
    internal_errors: 0,
    dropped_samples: {},
    dropped_messages: {},
  };

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly listeners: CoreListeners = {},
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
    this.tracker = new TurnTracker({
      sample: (s) => this.addSample(s),
      turn: (t) => this.addTurn(t),
      toolOutcome: (name, outcome) => {
        this.ledger.toolOutcome(outcome, this.opts.now());
        if (outcome !== 'cancelled') this.countFunction(name, outcome === 'error');
      },
    });
  }

  ingest(signal: Signal): void {
    this.ledger.handle(signal);
    this.tracker.handle(signal);
    // Alerts are evaluated when a turn ends, at once on an error, and by the owner's periodic
    // tick (evaluateAlerts) while the window slides.
    if (signal.kind === 'error') this.evaluateAlerts(this.opts.now(), true);
  }

  countOddField(field: string): void {
    this.health.odd_fields[field] = (this.health.odd_fields[field] ?? 0) + 1;
    this.listeners.oddField?.(field);
  }

  stats(name: StatName): Stats {
    return this.lifetime.get(name)!.stats();
  }

  errorRate(component: Component): number | null {
    return this.ledger.snapshot(component).error_rate;
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
    const stats = new Map(STAT_NAMES.map((name) => [name, this.stats(name)]));
    const stat = (name: StatName) => stats.get(name)!;
    const requests = (c: Component) => this.ledger.snapshot(c);
    const stt = requests('stt');
    const llm = requests('llm');
    const tts = requests('tts');
    const fn = requests('function');
    const byName: MetricsSummary['function']['by_name'] = {};
    for (const [name, s] of this.byFunction) {
      byName[name] = {
        count: s.calls,
        errors: s.errors,
        avg: s.samples ? s.totalMs / s.samples : null,
      };
    }
    return {
      v: 1,
      at: this.opts.now(),
      labels: { ...this.opts.labels },
      turns: this.turnCount,
      interrupted_turns: this.interruptedTurns,
      cancelled_turns: this.cancelledTurns,
      stt: { latency: stat('stt_latency'), error_rate: stt.error_rate, requests: stt },
      llm: {
        ttft: stat('ttft'),
        ttlt: stat('ttlt'),
        token_rate: stat('tokens_per_sec'),
        error_rate: llm.error_rate,
        requests: llm,
      },
      tts: { latency: stat('tts_latency'), error_rate: tts.error_rate, requests: tts },
      function: {
        execution: stat('function_execution'),
        error_rate: fn.error_rate,
        requests: fn,
        by_name: byName,
      },
      e2e: { latency: stat('e2e_latency') },
      concurrency: {
        active_sessions: processSessions.active,
        peak_sessions: processSessions.peak,
        active_tools: this.tracker.activeTools,
        peak_tools: this.tracker.peakTools,
      },
      bottleneck: findBottleneck(stat) ?? null,
      alerts: this.alerts.list(),
      health: structuredClone(this.health),
    };
  }

  private addSample(sample: MetricSample): void {
    if (!Number.isFinite(sample.value) || sample.value < 0) {
      const reason = `${sample.stat}:${Number.isFinite(sample.value) ? 'negative' : 'not_finite'}`;
      this.health.dropped_samples[reason] = (this.health.dropped_samples[reason] ?? 0) + 1;
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
