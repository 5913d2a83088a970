import { type ChildProcess, fork } from 'node:child_process';

/** The stand-in job process (a real AgentSession with metrics attached), driven over IPC. */
export const JOB_FIXTURE = new URL('../fixtures/job.ts', import.meta.url);

/** Parent → job. */
export type JobCommand =
  /**
   * Starts a text-mode AgentSession with metrics attached, answering with the given TTFTs.
   * `prime`: run one turn before attaching, so the process's first-turn start-up cost (lazy
   * imports in the framework, cold code) is not in any recorded latency.
   */
  | {
      type: 'start';
      labels: Record<string, string>;
      ttftMenuMs: number[];
      prime?: boolean;
      /** The LLM's model name (default `scripted-1`), e.g. one too long for a label. */
      model?: string;
    }
  /** One user turn whose LLM answer has this TTFT (one of the start message's menu). */
  | { type: 'turn'; ttftMs: number }
  /** Turns back to back, as fast as they complete, until the process dies or is told to stop. */
  | { type: 'loop'; ttftMs: number }
  /** Ends a loop after its current turn (handled at once, not queued behind the loop). */
  | { type: 'stop' }
  /** Blocks the job's event loop for `ms` (at once, not queued). */
  | { type: 'stall'; ms: number }
  /**
   * Closes the session and exits. `framework`: the way the framework's job process ends (some
   * asynchronous teardown, then process.exit(0)); `now`: process.exit(0) as soon as the
   * session's close() resolves.
   */
  | { type: 'close'; exit: 'framework' | 'now' };

/** Job → parent. `ttftSeconds` are the TTFT samples the plugin recorded in that turn. */
export type JobReport =
  | { type: 'started'; pid: number }
  | { type: 'turn-started'; turn: number }
  | { type: 'turn-done'; turn: number; ttftSeconds: number[]; llmRequests: number }
  | { type: 'closing' };

export interface JobExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A forked job process, as the framework's process pool forks one: `child_process.fork` with
 * the parent's environment (so it finds the hub through LIVEKIT_AGENTS_METRICS_HUB) and the
 * parent's execArgv (tsx). `env` overrides the environment, e.g. to route through a HubProxy.
 */
export class JobProcess {
  readonly child: ChildProcess;
  readonly reports: JobReport[] = [];
  readonly exited: Promise<JobExit>;
  private readonly waiters = new Set<() => void>();

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.child = fork(JOB_FIXTURE, [], { execArgv: process.execArgv, env });
    this.child.on('message', (m: JobReport) => {
      this.reports.push(m);
      for (const wake of this.waiters) wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        for (const wake of this.waiters) wake();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(command: JobCommand): void {
    this.child.send(command);
  }

  /** The `n`-th report (1-based) of this type, once it has arrived. */
  async report<T extends JobReport['type']>(
    type: T,
    n = 1,
    timeoutMs = 20_000,
  ): Promise<Extract<JobReport, { type: T }>> {
    const find = () =>
      this.reports.filter((r): r is Extract<JobReport, { type: T }> => r.type === type)[n - 1];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`job ${this.pid} exited before its ${type} report #${n}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`job ${this.pid}: no ${type} report #${n} in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Sends a turn and waits for it to finish; returns its report. */
  async turn(ttftMs: number): Promise<Extract<JobReport, { type: 'turn-done' }>> {
    const n = this.turnsDone().length + 1;
    this.send({ type: 'turn', ttftMs });
    return this.report('turn-done', n);
  }

  turnsDone(): Array<Extract<JobReport, { type: 'turn-done' }>> {
    return this.reports.filter(
      (r): r is Extract<JobReport, { type: 'turn-done' }> => r.type === 'turn-done',
    );
  }

  /** Every TTFT sample the job reported recording, in seconds. */
  recordedTtfts(): number[] {
    return this.turnsDone().flatMap((r) => r.ttftSeconds);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}
