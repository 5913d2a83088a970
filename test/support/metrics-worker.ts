import { type ChildProcess, spawn } from 'node:child_process';
import { killOnExit } from './kill-on-exit.js';

const FIXTURE = new URL('../fixtures/metrics-worker.ts', import.meta.url);

/** test/fixtures/metrics-worker.ts as a child process: a worker main process with its hub. */
export class MetricsWorker {
  /** When it listened (epoch ms). */
  readonly startedAt = Date.now();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    /** Its /metrics URL. */
    readonly url: string,
    /** The hand-off value job processes inherit (LIVEKIT_AGENTS_METRICS_HUB). */
    readonly hub: string,
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  ) {
    this.exited = exited;
  }

  static async start(port: number, flushMs: number, env = process.env): Promise<MetricsWorker> {
    const clean = { ...env };
    delete clean.LIVEKIT_AGENTS_METRICS_HUB; // it would make the worker a "job process"
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', FIXTURE.pathname, String(port), String(flushMs)],
      { env: clean, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const forget = killOnExit(() => child.kill('SIGKILL'));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => {
        forget();
        resolve({ code, signal });
      }),
    );
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        const found = out.split('\n').find((l) => l.startsWith('LKAM '));
        if (found) resolve(found.slice(5));
      });
      child.once('exit', () => reject(new Error(`metrics worker exited before listening: ${out}`)));
    });
    const { url, hub } = JSON.parse(line) as { url: string; hub: string };
    return new MetricsWorker(child, url, hub, exited);
  }

  get pid(): number {
    return this.child.pid!;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}
