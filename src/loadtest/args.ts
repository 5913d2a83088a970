/**
 * `loadtest`'s command line → `runLoadTest`'s options. Pure: no I/O. Every problem is a
 * MetricsConfigError naming the flag, and the options it returns pass resolveLoadTestOptions.
 */
import { parseArgs } from 'node:util';
import { ConfigCheck, MetricsConfigError, shown } from '../errors.js';
import { LIMITS, resolveLoadTestOptions } from './options.js';
import type { LoadTestOptions } from './types.js';

export interface LoadTestArgs {
  options: LoadTestOptions;
  json: boolean;
  /** Where to write the SVG plot, if asked. */
  plot: string | undefined;
}

const FLAGS = {
  url: { type: 'string' },
  'agent-name': { type: 'string' },
  steps: { type: 'string' },
  'max-calls': { type: 'string' },
  hold: { type: 'string' },
  duration: { type: 'string' },
  'step-duration': { type: 'string' },
  'budget-p90': { type: 'string' },
  'max-failure-rate': { type: 'string' },
  wav: { type: 'string', multiple: true },
  'answer-timeout': { type: 'string' },
  'join-timeout': { type: 'string' },
  pause: { type: 'string' },
  'room-prefix': { type: 'string' },
  topic: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
  plot: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A decimal number as typed: digits, an optional fraction. No exponent, sign, hex or spaces. */
const DECIMAL = /^\d{1,9}(?:\.\d{1,6})?$/;

/** The flags as options, or 'help'. `env` gives LIVEKIT_URL / _API_KEY / _API_SECRET. */
export function parseLoadTestArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): LoadTestArgs | 'help' {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: FLAGS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new MetricsConfigError('arguments', String((error as Error).message));
  }
  if (values.help) return 'help';
  const check = new ConfigCheck();
  const str = (flag: string) => values[flag] as string | undefined;
  const number = (flag: string, min: number, max: number, int = false): number | undefined => {
    const raw = str(flag);
    if (raw === undefined) return undefined;
    const n = DECIMAL.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max) || (int && !Number.isInteger(n))) {
      check.problem(
        `--${flag}`,
        `expected ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${shown(raw)}`,
      );
      return undefined;
    }
    return n;
  };
  const seconds = (flag: string, min: number, max: number) => {
    const s = number(flag, min / 1000, max / 1000);
    return s === undefined ? undefined : Math.round(s * 1000);
  };

  const options: LoadTestOptions = {
    url: str('url') ?? env.LIVEKIT_URL ?? '',
    apiKey: env.LIVEKIT_API_KEY ?? '',
    apiSecret: env.LIVEKIT_API_SECRET ?? '',
    agentName: str('agent-name') ?? '',
  };
  if (!options.url) check.problem('--url', 'is required (or set LIVEKIT_URL)');
  if (!options.apiKey || !options.apiSecret) {
    check.problem(
      'LIVEKIT_API_KEY',
      "set LIVEKIT_API_KEY and LIVEKIT_API_SECRET (the server's API key and secret)",
    );
  }
  if (!options.agentName)
    check.problem('--agent-name', 'is required: the agentName the worker registers');

  const shapes = ['steps', 'max-calls', 'hold'].filter((f) => str(f) !== undefined);
  if (shapes.length > 1) {
    check.problem(
      `--${shapes[1]}`,
      `use one of --steps, --max-calls and --hold, not --${shapes.join(' and --')}`,
    );
  }
  const steps = str('steps');
  if (steps !== undefined) {
    const parts = steps.split(',');
    const counts = parts.map((p) => (/^\d{1,4}$/.test(p.trim()) ? Number(p.trim()) : NaN));
    if (parts.length > LIMITS.maxSteps || counts.some((n) => !(n >= 1 && n <= LIMITS.maxCalls))) {
      check.problem(
        '--steps',
        `expected up to ${LIMITS.maxSteps} call counts in [1, ${LIMITS.maxCalls}] like 1,2,4,8, got ${shown(steps)}`,
      );
    } else options.steps = counts;
  }
  const maxCalls = number('max-calls', 1, LIMITS.maxCalls, true);
  if (maxCalls !== undefined) {
    options.steps = [];
    for (let n = 1; n < maxCalls; n *= 2) options.steps.push(n);
    options.steps.push(maxCalls);
  }
  const hold = number('hold', 1, LIMITS.maxCalls, true);
  if (hold !== undefined) options.steps = [hold];
  const duration = seconds('duration', LIMITS.minStepDurationMs, LIMITS.maxStepDurationMs);
  const stepDuration = seconds('step-duration', LIMITS.minStepDurationMs, LIMITS.maxStepDurationMs);
  if (duration !== undefined && stepDuration !== undefined) {
    check.problem('--duration', 'use --duration (with --hold) or --step-duration, not both');
  }
  if (duration !== undefined && hold === undefined)
    check.problem('--duration', 'goes with --hold <calls>; a ramp takes --step-duration');
  const stepDurationMs = duration ?? stepDuration;
  if (stepDurationMs !== undefined) options.stepDurationMs = stepDurationMs;

  const budget = number('budget-p90', 1, 60_000);
  if (budget !== undefined) options.budgetP90Ms = budget;
  const rate = number('max-failure-rate', 0, 1);
  if (rate !== undefined) options.maxFailureRate = rate;
  const wavs = values.wav as string[] | undefined;
  if (wavs !== undefined) options.utterances = wavs;
  const answer = seconds('answer-timeout', 500, LIMITS.maxTimeoutMs);
  if (answer !== undefined) options.answerTimeoutMs = answer;
  const join = seconds('join-timeout', 500, LIMITS.maxTimeoutMs);
  if (join !== undefined) options.agentJoinTimeoutMs = join;
  const pause = str('pause');
  if (pause !== undefined) {
    const m = /^(\d{1,2}(?:\.\d{1,3})?)-(\d{1,2}(?:\.\d{1,3})?)$/.exec(pause);
    const [min, max] = m ? [Number(m[1]) * 1000, Number(m[2]) * 1000] : [NaN, NaN];
    if (!(min <= max && max <= LIMITS.maxPauseMs)) {
      check.problem(
        '--pause',
        `expected <min>-<max> seconds like 0.8-2 (at most ${LIMITS.maxPauseMs / 1000}), got ${shown(pause)}`,
      );
    } else options.pauseMs = { min: Math.round(min), max: Math.round(max) };
  }
  if (str('room-prefix') !== undefined) options.roomPrefix = str('room-prefix');
  if (str('topic') !== undefined) options.topic = str('topic');
  const seed = number('seed', 0, 2 ** 32 - 1, true);
  if (seed !== undefined) options.seed = seed;
  const plot = str('plot');
  if (plot !== undefined && (plot === '' || plot.includes('\0') || plot.length > 4096)) {
    check.problem('--plot', `expected a file path for the SVG, got ${shown(plot)}`);
  }
  check.done();
  // the options' own checks, with flag names (the URL's form, the agent name's characters, …)
  try {
    resolveLoadTestOptions(options);
  } catch (error) {
    if (!(error instanceof MetricsConfigError)) throw error;
    const first = error.problems[0]!;
    throw new MetricsConfigError(
      flagOf(first.option),
      first.message,
      error.problems.slice(1).map((p) => ({ option: flagOf(p.option), message: p.message })),
    );
  }
  return { options, json: values.json === true, plot };
}

const FLAG_OF: Record<string, string> = {
  url: '--url',
  apiKey: 'LIVEKIT_API_KEY',
  apiSecret: 'LIVEKIT_API_SECRET',
  agentName: '--agent-name',
  roomPrefix: '--room-prefix',
  topic: '--topic',
};

const flagOf = (option: string) => (Object.hasOwn(FLAG_OF, option) ? FLAG_OF[option]! : option);
