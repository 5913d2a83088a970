/**
 * `runLoadTest`'s options, checked once (every problem at once, a MetricsConfigError) and
 * bounded: whatever is passed, a run cannot open a million rooms or wait for a year.
 */
import {
  ConfigCheck,
  MetricsConfigError,
  readList,
  readOption,
  readRecord,
  shown,
} from '../errors.js';
import type { LoadTestOptions, LoadTestProgress } from './types.js';

export const LIMITS = {
  /** Concurrent calls of one step (one process's generator: a few dozen is its real limit). */
  maxCalls: 500,
  maxSteps: 32,
  maxStepDurationMs: 24 * 3_600_000,
  minStepDurationMs: 1_000,
  maxTimeoutMs: 600_000,
  maxPauseMs: 60_000,
  maxUtterances: 64,
  maxText: 256,
} as const;

export const DEFAULT_STEPS = [1, 2, 4, 8, 16] as const;

export interface ResolvedLoadTestOptions {
  url: string;
  apiKey: string;
  apiSecret: string;
  agentName: string;
  steps: number[];
  stepDurationMs: number;
  budgetP90Ms: number | undefined;
  maxFailureRate: number;
  /** WAV paths; undefined: the bundled ones. */
  utterances: string[] | undefined;
  answerTimeoutMs: number;
  agentJoinTimeoutMs: number;
  pauseMs: { min: number; max: number };
  roomPrefix: string;
  topic: string;
  seed: number;
  signal: AbortSignal | undefined;
  onProgress: ((progress: LoadTestProgress) => void) | undefined;
}

const URL_RE = /^(wss?|https?):\/\/[^\s/?#]+(?:[/?#]\S*)?$/i;
const NAME_RE = /^[A-Za-z0-9_.-]+$/;

export function resolveLoadTestOptions(options: LoadTestOptions): ResolvedLoadTestOptions {
  if (typeof options !== 'object' || options === null) {
    throw new MetricsConfigError('options', `expected an object, got ${shown(options)}`);
  }
  const check = new ConfigCheck();
  const get = (key: string) => check.take(() => readOption(options, key, key), undefined);

  const text = (key: string, what: string, re?: RegExp): string => {
    const v = get(key);
    if (typeof v !== 'string' || v === '' || v.length > LIMITS.maxText) {
      check.problem(key, `expected ${what}, got ${shown(v)}`);
      return '';
    }
    if (re && !re.test(v)) check.problem(key, `expected ${what}, got ${shown(v)}`);
    return v;
  };
  const num = (key: string, dflt: number, min: number, max: number, int = false): number => {
    const v = get(key);
    if (v === undefined) return dflt;
    if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      v < min ||
      v > max ||
      (int && !Number.isInteger(v))
    ) {
      check.problem(
        key,
        `expected ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${shown(v)}`,
      );
      return dflt;
    }
    return v;
  };

  const url = text('url', 'a ws://, wss://, http:// or https:// URL of the LiveKit server', URL_RE);
  const apiKey = text('apiKey', 'the API key (a non-empty string)');
  const apiSecret = text('apiSecret', 'the API secret (a non-empty string)');
  const agentName = text(
    'agentName',
    'the agent name the worker registers (letters, digits, _ . -)',
    NAME_RE,
  );

  const steps = readSteps(get('steps'), check);
  const stepDurationMs = num(
    'stepDurationMs',
    60_000,
    LIMITS.minStepDurationMs,
    LIMITS.maxStepDurationMs,
  );
  const budget = get('budgetP90Ms');
  const budgetP90Ms = budget === undefined ? undefined : num('budgetP90Ms', 0, 1, 60_000);
  const maxFailureRate = num('maxFailureRate', 0.2, 0, 1);
  const utterances = readUtterances(get('utterances'), check);
  const answerTimeoutMs = num('answerTimeoutMs', 15_000, 500, LIMITS.maxTimeoutMs);
  const agentJoinTimeoutMs = num('agentJoinTimeoutMs', 30_000, 500, LIMITS.maxTimeoutMs);
  const pauseMs = readPause(get('pauseMs'), check);
  const roomPrefix =
    get('roomPrefix') === undefined
      ? 'loadtest'
      : text(
          'roomPrefix',
          'a room-name prefix (letters, digits, _ . -, at most 64)',
          /^[A-Za-z0-9_.-]{1,64}$/,
        );
  const topic =
    get('topic') === undefined ? 'agent-metrics' : text('topic', 'the non-empty data topic');
  const seed = num('seed', 1, 0, 2 ** 32 - 1, true);

  const signal = get('signal');
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    check.problem('signal', `expected an AbortSignal, got ${shown(signal)}`);
  }
  const onProgress = get('onProgress');
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    check.problem('onProgress', `expected a function, got ${shown(onProgress)}`);
  }
  check.done();
  return {
    url,
    apiKey,
    apiSecret,
    agentName,
    steps,
    stepDurationMs,
    budgetP90Ms,
    maxFailureRate,
    utterances,
    answerTimeoutMs,
    agentJoinTimeoutMs,
    pauseMs,
    roomPrefix,
    topic,
    seed,
    signal: signal as AbortSignal | undefined,
    onProgress: onProgress as ResolvedLoadTestOptions['onProgress'],
  };
}

function readSteps(value: unknown, check: ConfigCheck): number[] {
  if (value === undefined) return [...DEFAULT_STEPS];
  const list = check.take(() => readList(value, 'steps', LIMITS.maxSteps), undefined);
  if (!list || list.length === 0 || list.length > LIMITS.maxSteps) {
    check.problem(
      'steps',
      `expected a list of 1 to ${LIMITS.maxSteps} call counts, got ${shown(value)}`,
    );
    return [...DEFAULT_STEPS];
  }
  const steps: number[] = [];
  list.items.forEach((n, i) => {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > LIMITS.maxCalls) {
      check.problem(
        `steps[${i}]`,
        `expected an integer in [1, ${LIMITS.maxCalls}], got ${shown(n)}`,
      );
    } else steps.push(n);
  });
  return steps;
}

function readUtterances(value: unknown, check: ConfigCheck): string[] | undefined {
  if (value === undefined) return undefined;
  const list = check.take(() => readList(value, 'utterances', LIMITS.maxUtterances), undefined);
  if (!list || list.length === 0 || list.length > LIMITS.maxUtterances) {
    check.problem(
      'utterances',
      `expected a list of 1 to ${LIMITS.maxUtterances} WAV paths, got ${shown(value)}`,
    );
    return undefined;
  }
  const paths: string[] = [];
  list.items.forEach((p, i) => {
    if (typeof p !== 'string' || p === '' || p.length > 4096 || p.includes('\0')) {
      check.problem(`utterances[${i}]`, `expected a WAV file path, got ${shown(p)}`);
    } else paths.push(p);
  });
  return paths;
}

function readPause(value: unknown, check: ConfigCheck): { min: number; max: number } {
  const dflt = { min: 800, max: 2_000 };
  if (value === undefined) return dflt;
  const record = check.take(() => readRecord(value, 'pauseMs'), undefined);
  const min = record?.get('min');
  const max = record?.get('max');
  const ok = (v: unknown): v is number =>
    typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= LIMITS.maxPauseMs;
  if (!ok(min) || !ok(max) || min > max) {
    check.problem('pauseMs', `expected { min, max } in ms, 0 ≤ min ≤ max ≤ ${LIMITS.maxPauseMs}`);
    return dflt;
  }
  return { min, max };
}
