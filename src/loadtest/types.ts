/**
 * The public types of `runLoadTest` (`livekit-agents-metrics/loadtest`): its options, its live
 * progress and its result. See docs/LOADTEST.md.
 */

/** Options of `runLoadTest`; `url`, `apiKey`, `apiSecret` and `agentName` are required. */
export interface LoadTestOptions {
  /** The LiveKit server: `ws://`, `wss://`, `http://` or `https://`. */
  url: string;
  /** API key and secret, to mint the callers' tokens and dispatch the agent. */
  apiKey: string;
  apiSecret: string;
  /** The agent to dispatch into each call's room (the worker's `agentName`, explicit dispatch). */
  agentName: string;
  /** Concurrent calls of each step, in order. Default `[1, 2, 4, 8, 16]`. */
  steps?: number[];
  /** How long each step runs; its calls then finish the turn they are in and leave.
   * Default `60000` ms. */
  stepDurationMs?: number;
  /** Stop after a step whose heard-latency p90 is above this (ms). Default: no budget. */
  budgetP90Ms?: number;
  /** Stop after a step whose failure rate ((unanswered turns + calls without an agent) / (turns
   * + calls without an agent)) is above this. Default `0.2`. */
  maxFailureRate?: number;
  /** WAV files the callers speak, in turn (16-bit PCM, mono or stereo, one sample rate). Default:
   * the five utterances bundled with the package. */
  utterances?: string[];
  /** A turn whose answer has not started this long after the caller's speech ended is
   * unanswered; the caller speaks again. Default `15000` ms. */
  answerTimeoutMs?: number;
  /** A call whose agent has not joined (and published audio) this long after its dispatch
   * fails. Default `30000` ms. */
  agentJoinTimeoutMs?: number;
  /** The caller's pause after an answer ends, before it speaks again: a random time in
   * [min, max]. Default `{ min: 800, max: 2000 }` ms. */
  pauseMs?: { min: number; max: number };
  /** Prefix of the rooms the run creates (and deletes). Default `'loadtest'`. */
  roomPrefix?: string;
  /** The agent's metrics topic, where its turns (with the heard-latency breakdown) come back.
   * Default `'agent-metrics'`. */
  topic?: string;
  /** Seed of the pauses and utterance order. Default `1`. */
  seed?: number;
  /** Aborting ends the run: calls leave, rooms are deleted, and the result so far resolves
   * (`stoppedBy: 'interrupted'`). */
  signal?: AbortSignal;
  /** Called about once a second while a step runs. Errors it throws are ignored. */
  onProgress?: (progress: LoadTestProgress) => void;
}

/** What a running step has done so far. */
export interface LoadTestProgress {
  /** Index of the step in `steps`, and its concurrent calls. */
  step: number;
  calls: number;
  elapsedMs: number;
  durationMs: number;
  /** Calls whose agent has joined and published audio, and that have not left. */
  callsUp: number;
  turns: number;
  answered: number;
  unanswered: number;
  heardP50Ms: number | null;
  heardP90Ms: number | null;
}

/** Quantiles of a set of latencies, ms. */
export interface LatencyQuantiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  count: number;
}

/** What most likely limited a step. */
export type LoadTestLimit =
  /** Nothing seen: answers in budget, every call got its agent, the generator kept up. */
  | 'none'
  /** The generator itself: its event loop lagged or its CPU was saturated, so its timings are
   * not to be trusted. */
  | 'generator'
  /** The worker: dispatches no agent answered (no free job process, or its reported load above
   * the server's threshold). */
  | 'worker'
  /** The agent: answers over budget, or turns unanswered. */
  | 'agent';

/** One turn as the caller heard it. */
export interface LoadTestTurn {
  /** Call index within its step, and turn index within its call. */
  call: number;
  turn: number;
  /** The call's room (its agent's logs and metrics carry the same name). */
  room: string;
  /** `answered`: timed; `unanswered`: no answer started within `answerTimeoutMs`; `late`: an
   * answer came only after that (or after the caller spoke again), counted, never timed. */
  outcome: 'answered' | 'unanswered' | 'late';
  /** The caller's last voiced sample → the answer's first audible sample, ms. */
  heardMs?: number;
  /** The agent's breakdown of the same turn, from the turn it published back (ms). */
  agent?: { heardMs: number; uplinkMs?: number; agentMs?: number; downlinkMs?: number };
}

/** One step of the ramp. */
export interface LoadTestStep {
  calls: number;
  durationMs: number;
  /** Calls whose agent joined and published audio. */
  callsUp: number;
  /** Calls that failed (no agent in time, or a connection error), with the first messages. */
  callsFailed: number;
  errors: string[];
  /** Dispatch → the agent's audio track at the caller (ms), over the calls that got one. */
  dispatchToAgentMs: LatencyQuantiles | null;
  turns: number;
  answered: number;
  unanswered: number;
  /** Answers that started after their turn was given up, or while the caller spoke again. */
  late: number;
  heardMs: LatencyQuantiles | null;
  /** The agent's own split of heard latency (p50s), over the turns whose report it accepted
   * and published back with a clock offset. */
  agentBreakdownMs: { uplink: number; agent: number; downlink: number; turns: number } | null;
  /** Turns the agent published back with the caller's heard latency. */
  agentReports: number;
  generator: {
    /** p99 of this process's event-loop delay during the step. */
    eventLoopLagP99Ms: number;
    /** This process's CPU, % of one core; and the whole machine's, % of all cores. */
    cpuPercent: number;
    machineCpuPercent: number;
  };
  limit: LoadTestLimit;
  /** Every turn of the step (at most 5000). */
  perTurn: LoadTestTurn[];
}

export interface LoadTestResult {
  v: 1;
  startedAt: number;
  endedAt: number;
  agentName: string;
  /** `completed`: every step ran; `budget` / `failures`: a step went over; `no-agent`: no
   * agent joined any call of the first step; `interrupted`: aborted. */
  stoppedBy: 'completed' | 'budget' | 'failures' | 'no-agent' | 'interrupted';
  /** Why it stopped, in words. */
  reason: string;
  machine: { cores: number; cpu: string; platform: string };
  steps: LoadTestStep[];
}
