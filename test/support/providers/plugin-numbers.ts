/**
 * What the metrics plugin reports for one pipeline component, read in one place so the provider
 * tests follow the summary's shape through a single edit when it changes.
 */
import { voice } from '@livekit/agents';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type {
  SessionMetrics,
  Stats,
  TurnTimeline,
  Usage,
  UsageComponent,
  UsageField,
} from '../../../src/index.js';
import type { ProviderRequest } from './request-log.js';

export interface ComponentNumbers {
  requests: number;
  errors: number;
  retries: number;
  cancelled: number;
  errorRate: number | null;
  /** The component's latency series: STT latency, LLM TTFT, or TTS time to first byte. */
  latency: Stats;
}

const LATENCY = { stt: 'stt_latency', llm: 'ttft', tts: 'tts_latency' } as const;

export function pluginNumbers(
  metrics: SessionMetrics,
  component: 'stt' | 'llm' | 'tts',
): ComponentNumbers {
  const summary = metrics.summary();
  const { requests, errors, retries, cancelled, errorRate } = summary.components[component];
  return {
    requests,
    errors,
    retries,
    cancelled,
    errorRate,
    latency: metrics.stats(LATENCY[component]),
  };
}

/** One usage quantity of a component, summed over its providers and models. */
export function usageTotal(usage: Usage | undefined, component: UsageComponent, field: UsageField) {
  return (usage?.entries ?? [])
    .filter((e) => e.component === component)
    .reduce((sum, e) => sum + (e.amounts[field] ?? 0), 0);
}

/** The plugin's session usage of `field`, and the sum of its turns' (they must agree). */
export function pluginUsage(
  metrics: SessionMetrics,
  component: UsageComponent,
  field: UsageField,
): { session: number; turns: number } {
  const turns: TurnTimeline[] = metrics.turns();
  return {
    session: usageTotal(metrics.summary().usage, component, field),
    turns: turns.reduce((sum, t) => sum + usageTotal(t.usage, component, field), 0),
  };
}

/** Latencies must land within −5/+60 ms of what the server applied (timer and loopback slack). */
export const BELOW_MS = 5;
export const ABOVE_MS = 60;
/** The most client stall an upper bound absorbs: beyond it, a wrong number still fails. */
const MAX_STALL_MS = 200;

/**
 * How long this process's event loop was blocked (GC, JIT, the VAD's inference, a loaded
 * machine). A response that arrives while the loop is blocked is read late, and the plugin
 * rightly measures it late; the server cannot see that, so upper bounds add the longest stall
 * seen since `reset()` (capped). Lower bounds get no such allowance.
 */
export class LoopStall {
  readonly #histogram = monitorEventLoopDelay({ resolution: 5 });
  constructor() {
    this.#histogram.enable();
  }

  reset(): void {
    this.#histogram.reset();
  }

  /** The longest stall since the last reset, in ms (capped). */
  maxMs(): number {
    return Math.min(this.#histogram.max / 1e6, MAX_STALL_MS);
  }

  stop(): void {
    this.#histogram.disable();
  }
}

export function assertNear(
  observed: number | null | undefined,
  expected: number,
  what: string,
  opts: { below?: number; stall?: LoopStall; stallBelow?: boolean } = {},
) {
  const stallMs = opts.stall?.maxMs() ?? 0;
  // a measurement whose start the client stamps when it reads an event can come out short
  const below = (opts.below ?? BELOW_MS) + (opts.stallBelow ? stallMs : 0);
  assert.ok(observed !== null && observed !== undefined, `${what}: no value`);
  assert.ok(
    observed >= expected - below && observed <= expected + ABOVE_MS + stallMs,
    `${what}: plugin ${observed} ms, server ${expected} ms (loop stalled up to ${Math.round(stallMs)} ms)`,
  );
}

/** The server's own first-byte latency of a request (arrival to first output). */
export function serverFirstByteMs(entry: ProviderRequest): number {
  assert.ok(entry.firstByteAt !== undefined, `${entry.id}: no first byte`);
  return entry.firstByteAt - entry.startedAt;
}

/** A sorted copy, for comparing two sets of latencies whose order may differ. */
export const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

/** Copies of the framework's own `metrics_collected` reports of one type, as they arrive. */
export function frameworkReports(
  session: voice.AgentSession,
  type: string,
): Array<Record<string, unknown>> {
  const reports: Array<Record<string, unknown>> = [];
  session.on(voice.AgentSessionEventTypes.MetricsCollected, (ev) => {
    if (ev.metrics.type === type) reports.push({ ...ev.metrics });
  });
  return reports;
}
