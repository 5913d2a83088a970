/**
 * The real agent worker of test/fixtures/livekit-agent.ts as a child process of the test: its
 * `LKAM` events, its log (to a file), and its end. It runs in a process group of its own, so the
 * job and inference processes the framework forks end with it, whatever state they are in.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type WriteStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { AgentEvent } from '../fixtures/livekit-agent.js';
import { killOnExit } from './kill-on-exit.js';
import type { LiveKitServer } from './livekit-server.js';

const FIXTURE = new URL('../fixtures/livekit-agent.ts', import.meta.url);
/** The framework logs this (pino, JSON) once the server has accepted the worker. */
const REGISTERED_MSG = '"msg":"registered worker"';

type Waiter = () => void;

export class AgentWorker {
  readonly events: Array<AgentEvent & { receivedAt: number }> = [];
  /** When the server accepted the worker (from the framework's log), epoch ms. */
  registeredAt?: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<Waiter>();
  private readonly log: WriteStream;
  private tail: string[] = [];
  private stopping?: Promise<void>;
  private readonly forget: () => void;

  private constructor(
    private readonly proc: ChildProcess,
    readonly logPath: string,
  ) {
    this.log = createWriteStream(logPath);
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => this.onLine(line));
    proc.stderr!.on('data', (d: Buffer) => {
      this.log.write(d);
      this.remember(d.toString());
    });
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.wake();
        resolve({ code, signal });
      });
    });
    this.forget = killOnExit(() => killGroup(proc));
  }

  /**
   * Starts the worker against `server`; its log goes to `logPath`. With `attachAfterStart`, each
   * job attaches metrics once its session has started (the fixture's E2E_ATTACH_AFTER_START).
   */
  static start(
    server: LiveKitServer,
    logPath: string,
    opts: { attachAfterStart?: boolean } = {},
  ): AgentWorker {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LIVEKIT_URL: server.url,
      LIVEKIT_API_KEY: server.apiKey,
      LIVEKIT_API_SECRET: server.apiSecret,
    };
    if (opts.attachAfterStart) env.E2E_ATTACH_AFTER_START = '1';
    else delete env.E2E_ATTACH_AFTER_START;
    // the worker starts its own hub; one inherited from the test would make it a "job process"
    delete env.LIVEKIT_AGENTS_METRICS_HUB;
    delete env.LIVEKIT_AGENT_NAME;
    const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE.pathname, 'start'], {
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new AgentWorker(proc, logPath);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The `n`-th event (1-based) of this type matching `filter`, once it has arrived. */
  async event<T extends AgentEvent['type']>(
    type: T,
    timeoutMs: number,
    {
      n = 1,
      filter,
    }: { n?: number; filter?: (e: Extract<AgentEvent, { type: T }>) => boolean } = {},
  ): Promise<Extract<AgentEvent, { type: T }> & { receivedAt: number }> {
    type E = Extract<AgentEvent, { type: T }> & { receivedAt: number };
    const find = () =>
      this.events.filter((e): e is E => e.type === type && (!filter || filter(e as E)))[n - 1];
    return this.until(find, timeoutMs, `${type} event #${n}`);
  }

  /** Resolves once the server has accepted the worker (it then gets the jobs of new rooms). */
  async registered(timeoutMs: number): Promise<number> {
    return this.until(() => this.registeredAt, timeoutMs, 'worker registration');
  }

  /** The last lines of its log, for failure messages. */
  logTail(lines = 40): string {
    return this.tail.slice(-lines).join('\n');
  }

  /**
   * SIGTERM (the framework closes its jobs and exits), then SIGKILL to the whole process group
   * after `graceMs`: worker, job and inference processes. Idempotent.
   */
  stop(graceMs = 8_000): Promise<void> {
    this.stopping ??= (async () => {
      if (this.running) {
        this.proc.kill('SIGTERM');
        await Promise.race([this.exited, new Promise((r) => setTimeout(r, graceMs).unref())]);
      }
      killGroup(this.proc);
      this.forget();
      await this.exited;
      await new Promise<void>((resolve) => this.log.end(() => resolve()));
    })();
    return this.stopping;
  }

  private async until<V>(find: () => V | undefined, timeoutMs: number, what: string): Promise<V> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (!this.running) {
        throw new Error(`agent worker exited before ${what}; its log ends:\n${this.logTail()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no ${what} in ${timeoutMs} ms; the worker log ends:\n${this.logTail()}`);
      }
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

  private onLine(line: string): void {
    this.log.write(line + '\n');
    if (line.startsWith('LKAM ')) {
      try {
        const event = JSON.parse(line.slice(5)) as AgentEvent;
        this.events.push({ ...event, receivedAt: Date.now() });
      } catch {
        // a line torn by another process's write; the log keeps it
      }
    } else {
      this.remember(line);
      if (this.registeredAt === undefined && line.includes(REGISTERED_MSG)) {
        this.registeredAt = Date.now();
      }
    }
    this.wake();
  }

  private remember(text: string): void {
    this.tail.push(text);
    if (this.tail.length > 200) this.tail = this.tail.slice(-100);
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

function killGroup(proc: ChildProcess): void {
  try {
    // negative pid: the process group the worker leads (detached), i.e. it and every child
    if (proc.pid) process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
