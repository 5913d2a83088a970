/**
 * A step's numbers from its calls, the diagnosis of what limited it, and the text tables: the
 * live line while a step runs and the capacity table at the end.
 */
import type { CallResult } from './caller.js';
import {
  GENERATOR_CPU_LIMIT_PERCENT,
  GENERATOR_LAG_LIMIT_MS,
  type GeneratorHealth,
} from './generator.js';
import type {
  LatencyQuantiles,
  LoadTestLimit,
  LoadTestProgress,
  LoadTestResult,
  LoadTestStep,
  LoadTestTurn,
} from './types.js';

const MAX_TURNS_KEPT = 5_000;

/** The q-quantile (nearest rank) of `xs`, or null when empty. */
export function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function quantiles(xs: readonly number[]): LatencyQuantiles | null {
  if (xs.length === 0) return null;
  const r = (q: number) => Math.round(quantile(xs, q)! * 10) / 10;
  return { p50: r(0.5), p90: r(0.9), p99: r(0.99), max: r(1), count: xs.length };
}

export function summarizeStep(
  calls: number,
  durationMs: number,
  results: readonly CallResult[],
  generator: GeneratorHealth,
  budgetP90Ms: number | undefined,
): LoadTestStep {
  const perTurn: LoadTestTurn[] = results.flatMap((r, call) =>
    r.turns.map((t) => ({ ...t, call })),
  );
  const heard = perTurn.flatMap((t) => (t.heardMs === undefined ? [] : [t.heardMs]));
  const split = perTurn.flatMap((t) => (t.agent?.agentMs === undefined ? [] : [t.agent]));
  const p50 = (xs: number[]) => Math.round(quantile(xs, 0.5)! * 10) / 10;
  const step: LoadTestStep = {
    calls,
    durationMs: Math.round(durationMs),
    callsUp: results.filter((r) => r.agentUp).length,
    callsFailed: results.filter((r) => r.error !== undefined).length,
    errors: results.flatMap((r) => (r.error === undefined || r.noAgent ? [] : [r.error])),
    dispatchToAgentMs: quantiles(
      results.flatMap((r) => (r.dispatchToAgentMs === undefined ? [] : [r.dispatchToAgentMs])),
    ),
    turns: perTurn.length,
    answered: heard.length,
    unanswered: perTurn.filter((t) => t.outcome === 'unanswered').length,
    late: perTurn.filter((t) => t.outcome === 'late').length,
    heardMs: quantiles(heard),
    agentBreakdownMs:
      split.length === 0
        ? null
        : {
            uplink: p50(split.map((a) => a.uplinkMs!)),
            agent: p50(split.map((a) => a.agentMs!)),
            downlink: p50(split.map((a) => a.downlinkMs!)),
            turns: split.length,
          },
    agentReports: results.reduce((a, r) => a + r.agentReports, 0),
    generator,
    limit: 'none',
    perTurn: perTurn.slice(0, MAX_TURNS_KEPT),
  };
  step.limit = diagnose(step, results, budgetP90Ms);
  return step;
}

/** What most likely limited the step: the generator first (then its timings are not to be
 * trusted), then the worker (dispatches no agent answered), then the agent. */
function diagnose(
  step: LoadTestStep,
  results: readonly CallResult[],
  budgetP90Ms: number | undefined,
): LoadTestLimit {
  const g = step.generator;
  if (g.eventLoopLagP99Ms > GENERATOR_LAG_LIMIT_MS || g.cpuPercent > GENERATOR_CPU_LIMIT_PERCENT)
    return 'generator';
  if (results.some((r) => r.noAgent)) return 'worker';
  const overBudget = budgetP90Ms !== undefined && (step.heardMs?.p90 ?? 0) > budgetP90Ms;
  if (overBudget || step.unanswered > 0 || step.late > 0) return 'agent';
  return 'none';
}

const ms = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toFixed(0));

const COLUMNS = [
  'calls',
  'up',
  'turns',
  'heard p50',
  'p90',
  'p99',
  'unanswered',
  'late',
  'errors',
  'uplink',
  'agent',
  'downlink',
  'dispatch→agent',
  'gen lag',
  'gen cpu',
  'limit',
];

function row(s: LoadTestStep): string[] {
  const b = s.agentBreakdownMs;
  return [
    String(s.calls),
    String(s.callsUp),
    String(s.turns),
    ms(s.heardMs?.p50),
    ms(s.heardMs?.p90),
    ms(s.heardMs?.p99),
    String(s.unanswered),
    String(s.late),
    String(s.callsFailed),
    ms(b?.uplink),
    ms(b?.agent),
    ms(b?.downlink),
    ms(s.dispatchToAgentMs?.p50),
    ms(s.generator.eventLoopLagP99Ms),
    `${s.generator.cpuPercent.toFixed(0)}%`,
    s.limit,
  ];
}

/** The capacity table (times in ms), one row per step, then why the run stopped. */
export function renderCapacityTable(result: LoadTestResult): string {
  const rows = [COLUMNS, ...result.steps.map(row)];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((cell, i) => (i === r.length - 1 ? cell : cell.padStart(widths[i]!))).join('  ');
  const errors = result.steps.flatMap((s) => s.errors.map((e) => `  step ${s.calls}: ${e}`));
  const m = result.machine;
  return [
    `capacity of agent "${result.agentName}" (heard latency and its split in ms; ${m.cores} cores, ${m.cpu}, shared with the generator unless the worker runs elsewhere)`,
    line(rows[0]!),
    ...rows.slice(1).map(line),
    `stopped: ${result.stoppedBy}: ${result.reason}`,
    ...(errors.length ? ['errors:', ...errors] : []),
    '',
  ].join('\n');
}

/** One line of live progress. */
export function renderProgress(p: LoadTestProgress, steps: number): string {
  const pct = Math.min(100, Math.round((p.elapsedMs / p.durationMs) * 100));
  return (
    `step ${p.step + 1}/${steps}: ${p.calls} calls  ${String(pct).padStart(3)}%  up ${p.callsUp}/${p.calls}  ` +
    `turns ${p.turns}  answered ${p.answered}  unanswered ${p.unanswered}  heard p50 ${ms(p.heardP50Ms)} ms  p90 ${ms(p.heardP90Ms)} ms`
  );
}
