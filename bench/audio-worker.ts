/**
 * A worker's CPU with 1, 10 and 25 voice sessions of real audio, with and without the plugin:
 * each run is a fresh process (bench/audio-worker-job.ts), so no run inherits another's timers,
 * heap or JIT state. Runs alternate without/with in ABBA order, so drift in the machine's load
 * falls on both alike; the ratio is the mean CPU with over the mean CPU without.
 */
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import type { AudioWorkerResult, AudioWorkerRun } from './audio-worker-job.js';

export interface AudioWorkerSize {
  sessions: number;
  /** CPU per second of audio, in ms (1000 = one core), of each run. */
  without: number[];
  with: number[];
  /** Per ABBA block: mean(with) / mean(without) of its four runs. */
  blockRatios: number[];
  answered: { without: number; with: number };
  loopDelayP99Ms: { without: number; with: number };
  measuredTurns: number;
  load: { before: number; after: number };
  /** Runs that failed or timed out and were run again. */
  failures: number;
}

export interface AudioWorkerOptions {
  sizes: number[];
  /** ABBA blocks per size (each: without, with, with, without). */
  blocks: number;
  warmupMs: number;
  measureMs: number;
  vad: AudioWorkerRun['vad'];
  log?: (line: string) => void;
}

function runOnce(run: AudioWorkerRun): Promise<AudioWorkerResult> {
  const child = fork(new URL('./audio-worker-job.ts', import.meta.url), [JSON.stringify(run)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => {
        child.kill('SIGKILL');
        reject(new Error(`audio worker run timed out: ${JSON.stringify(run)}`));
      },
      run.warmupMs + run.measureMs + 120_000,
    );
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as AudioWorkerResult);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench/audio-worker-job.ts exited with ${code}`));
    });
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function audioWorker(opts: AudioWorkerOptions): Promise<AudioWorkerSize[]> {
  const out: AudioWorkerSize[] = [];
  for (const sessions of opts.sizes) {
    const before = loadavg()[0]!;
    const runs = { without: [] as AudioWorkerResult[], with: [] as AudioWorkerResult[] };
    const blockRatios: number[] = [];
    let failures = 0;
    for (let b = 0; b < opts.blocks; b++) {
      const block = { without: [] as number[], with: [] as number[] };
      for (const plugin of [false, true, true, false]) {
        const r = await runOnce({ ...opts, sessions, plugin }).catch((error: unknown) => {
          // a run starved by the machine (or hung): said, and run once more
          opts.log?.(`${sessions} sessions: ${String(error)}; once more`);
          failures++;
          return runOnce({ ...opts, sessions, plugin });
        });
        const perSecond = (r.cpuMs / r.wallMs) * 1000;
        runs[plugin ? 'with' : 'without'].push(r);
        block[plugin ? 'with' : 'without'].push(perSecond);
        opts.log?.(
          `${sessions} sessions ${plugin ? 'with   ' : 'without'}: ${perSecond.toFixed(0)} ms CPU/s, ` +
            `${r.answered} answers, loop p99 ${r.loopDelayP99Ms.toFixed(1)} ms, load ${loadavg()[0]!.toFixed(1)}`,
        );
      }
      blockRatios.push(mean(block.with) / mean(block.without));
    }
    const perSecond = (r: AudioWorkerResult) => (r.cpuMs / r.wallMs) * 1000;
    out.push({
      sessions,
      without: runs.without.map(perSecond),
      with: runs.with.map(perSecond),
      blockRatios,
      answered: {
        without: mean(runs.without.map((r) => r.answered)),
        with: mean(runs.with.map((r) => r.answered)),
      },
      loopDelayP99Ms: {
        without: Math.max(...runs.without.map((r) => r.loopDelayP99Ms)),
        with: Math.max(...runs.with.map((r) => r.loopDelayP99Ms)),
      },
      measuredTurns: runs.with.reduce((n, r) => n + (r.measuredTurns ?? 0), 0),
      load: { before, after: loadavg()[0]! },
      failures,
    });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = (process.argv[2] ?? '1').split(',').map(Number);
  const result = await audioWorker({
    sizes,
    blocks: 1,
    warmupMs: 5_000,
    measureMs: Number(process.argv[3] ?? 10_000),
    vad: (process.argv[4] as 'silero' | undefined) ?? 'bundled',
    log: (l) => console.error(l),
  });
  console.log(JSON.stringify(result, null, 2));
}
