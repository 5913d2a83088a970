/**
 * `runLoadTest`: steps of concurrent synthetic calls against one agent, each step measured at
 * the callers, until the steps run out, a step goes over the heard-latency budget or the failure
 * rate, no agent answers the first step, or the run is aborted. Every room it made is deleted.
 */
import type * as Rtc from '@livekit/rtc-node';
import { cpus, platform } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Guard } from '../util/guard.js';
import { now } from './audio.js';
import { type CallResult, type CallState, runCall } from './caller.js';
import { AnswerBook } from './answers.js';
import { LoadTestError, ServerApi, loadSdk, noAgentMessage } from './dispatch.js';
import { GeneratorMonitor } from './generator.js';
import { resolveLoadTestOptions, type ResolvedLoadTestOptions } from './options.js';
import { quantile, summarizeStep } from './report.js';
import type { LoadTestOptions, LoadTestResult, LoadTestStep } from './types.js';
import { loadUtterances, type Utterance } from './wav.js';

/**
 * Runs a load test against the agent `agentName` on the LiveKit server at `url`, and resolves
 * to the capacity per step. See docs/LOADTEST.md.
 *
 * @throws MetricsConfigError when an option is invalid or a WAV file cannot be used (before any
 * call starts), and an Error (`LoadTestError`) when the server cannot be reached or refuses the
 * credentials.
 */
export async function runLoadTest(options: LoadTestOptions): Promise<LoadTestResult> {
  const o = resolveLoadTestOptions(options);
  const utterances = await loadUtterances(o.utterances);
  const sdk = await loadSdk();
  let rtc: typeof Rtc;
  try {
    rtc = await import('@livekit/rtc-node');
  } catch (error) {
    throw new LoadTestError(`loadtest needs @livekit/rtc-node: ${(error as Error).message}`);
  }
  const api = new ServerApi(sdk, o.url, o.apiKey, o.apiSecret);
  await api.preflight();

  const result: LoadTestResult = {
    v: 1,
    startedAt: Date.now(),
    endedAt: 0,
    agentName: o.agentName,
    stoppedBy: 'completed',
    reason: `all ${o.steps.length} steps ran`,
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      platform: platform(),
    },
    steps: [],
  };
  const run = `${o.roomPrefix}-${randomBytes(3).toString('hex')}`;
  const rooms = new Set<string>();
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) abort.abort();
  const guard = new Guard({ warn: () => {} });
  const rng = mulberry32(o.seed);
  let anyAgent = false;
  try {
    for (const [index, calls] of o.steps.entries()) {
      if (abort.signal.aborted) break;
      const step = await runStep(index, calls, {
        o,
        api,
        rtc,
        utterances,
        rooms,
        run,
        rng,
        guard,
        signal: abort.signal,
      });
      anyAgent ||= step.callsUp > 0;
      result.steps.push(step);
      if (abort.signal.aborted) break;
      const stop = verdict(step, o, anyAgent);
      if (stop) {
        result.stoppedBy = stop.by;
        result.reason = stop.reason;
        break;
      }
    }
    if (abort.signal.aborted) {
      result.stoppedBy = 'interrupted';
      result.reason = `interrupted during step ${result.steps.length} of ${o.steps.length}`;
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await api.deleteRooms(rooms);
    result.endedAt = Date.now();
  }
  return result;
}

interface StepContext {
  o: ResolvedLoadTestOptions;
  api: ServerApi;
  rtc: typeof Rtc;
  utterances: Utterance[];
  rooms: Set<string>;
  run: string;
  rng: () => number;
  guard: Guard;
  signal: AbortSignal;
}

async function runStep(index: number, calls: number, c: StepContext): Promise<LoadTestStep> {
  const { o } = c;
  const monitor = new GeneratorMonitor();
  const startedAt = now();
  // the step's clock starts once every call has its agent (or has failed)
  let settled = 0;
  let release!: (until: number) => void;
  const allReady = new Promise<number>((resolve) => (release = resolve));
  const ready = () => {
    if (++settled === calls) release(now() + o.stepDurationMs);
    return allReady;
  };
  const states: CallState[] = [];
  const pause = () => o.pauseMs.min + c.rng() * (o.pauseMs.max - o.pauseMs.min);
  const promises: Array<Promise<CallResult>> = [];
  for (let i = 0; i < calls; i++) {
    const room = `${c.run}-s${index + 1}-c${i + 1}`;
    c.rooms.add(room);
    const state: CallState = { up: false, book: new AnswerBook(2 * o.answerTimeoutMs) };
    states.push(state);
    const first = Math.floor(c.rng() * c.utterances.length);
    promises.push(
      c.api
        .token(`caller-${i + 1}`, room)
        .catch((error: unknown) => {
          void ready();
          throw error;
        })
        .then((token) =>
          runCall(
            {
              rtc: c.rtc,
              url: o.url,
              token,
              room,
              dispatch: () => c.api.dispatch(room, o.agentName),
              utterances: c.utterances,
              first,
              answerTimeoutMs: o.answerTimeoutMs,
              agentJoinTimeoutMs: o.agentJoinTimeoutMs,
              pause,
              ready,
              topic: o.topic,
              signal: c.signal,
            },
            state,
          ),
        ),
    );
  }
  const progress = () => {
    if (!o.onProgress) return;
    const heard = states.flatMap((s) =>
      s.book.turns.filter((t) => t.outcome === 'answered').map((t) => t.heardMs!),
    );
    const turns = states.flatMap((s) => s.book.turns);
    const p = {
      step: index,
      calls,
      elapsedMs: Math.round(now() - startedAt),
      durationMs: o.stepDurationMs,
      callsUp: states.filter((s) => s.up).length,
      turns: turns.length,
      answered: heard.length,
      unanswered: turns.filter((t) => t.outcome === 'unanswered').length,
      heardP50Ms: quantile(heard, 0.5),
      heardP90Ms: quantile(heard, 0.9),
    };
    c.guard.run('listener', 'loadtest:onProgress', () => o.onProgress!(p));
  };
  const ticker = setInterval(progress, 1_000);
  let results: CallResult[];
  try {
    results = await Promise.all(
      promises.map((p) => p.catch((error: unknown) => failedCall(error))),
    );
  } finally {
    clearInterval(ticker);
  }
  progress();
  const generator = monitor.stop();
  const step = summarizeStep(calls, now() - startedAt, results, generator, o.budgetP90Ms);
  for (const r of results) {
    if (r.noAgent) {
      step.errors.unshift(
        noAgentMessage(
          o.agentName,
          o.agentJoinTimeoutMs,
          generator.machineCpuPercent,
          step.callsUp > 0 || index > 0,
        ),
      );
      break;
    }
  }
  step.errors = [...new Set(step.errors)].slice(0, 5);
  return step;
}

function failedCall(error: unknown): CallResult {
  return {
    agentUp: false,
    noAgent: false,
    error: error instanceof Error ? error.message : String(error),
    turns: [],
    late: 0,
    misattributed: 0,
    agentReports: 0,
  };
}

/** Whether the run stops after `step`, and why. */
function verdict(
  step: LoadTestStep,
  o: ResolvedLoadTestOptions,
  anyAgent: boolean,
): { by: LoadTestResult['stoppedBy']; reason: string } | undefined {
  if (!anyAgent) return { by: 'no-agent', reason: step.errors[0] ?? 'no agent joined any call' };
  const p90 = step.heardMs?.p90;
  if (o.budgetP90Ms !== undefined && p90 !== undefined && p90 > o.budgetP90Ms) {
    return {
      by: 'budget',
      reason: `heard p90 ${p90.toFixed(0)} ms at ${step.calls} calls is over the budget of ${o.budgetP90Ms} ms`,
    };
  }
  const failures = step.unanswered + step.late + step.callsFailed;
  const rate = failures / Math.max(1, step.turns + step.callsFailed);
  if (rate > o.maxFailureRate) {
    return {
      by: 'failures',
      reason: `${(rate * 100).toFixed(0)}% of turns and calls failed at ${step.calls} calls (over ${(o.maxFailureRate * 100).toFixed(0)}%)`,
    };
  }
  return undefined;
}

/** A small seeded generator (mulberry32): the same seed, the same pauses and first utterances. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
