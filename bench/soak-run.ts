/**
 * The soak: a worker main process (this process: `startMetricsServer`, so it hosts the hub)
 * with `jobs` job processes (bench/soak-job.ts) opening and closing real AgentSessions without
 * pause for `durationMs`. Every `sampleMs` it records, per process, RSS and heap (after a full
 * GC) and open file descriptors (`/proc/<pid>/fd`); the hub's connections (`/proc/net/unix`);
 * the series /metrics serves and how long that scrape took; and the turns the jobs ran against
 * the turns /metrics counts. Used by `npm run soak` (bench/soak.ts) and, short, by
 * test/integration/soak-short.test.ts.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { get } from 'node:http';
import { startMetricsServer } from '../src/index.js';
import { HUB_ENV } from '../src/prometheus/hub/protocol.js';
import { parseExposition, sumOf } from '../test/support/exposition-parser.js';
import type { SoakJobCommand, SoakJobCounts, SoakJobPlan, SoakJobReport } from './soak-job.js';

export interface SoakOptions extends Partial<SoakJobPlan> {
  durationMs: number;
  sampleMs: number;
  /** Samples before this time are warm-up: not held to the flatness criterion. */
  warmupMs: number;
  jobs?: number;
  flushMs?: number;
  /** Progress lines (one per sample). */
  log?: (line: string) => void;
}

export interface ProcessSample {
  heapUsed: number;
  rss: number;
  fds: number;
}

export interface SoakSample {
  /** Since the jobs started. */
  atMs: number;
  worker: ProcessSample;
  jobs: ProcessSample[];
  /** Connections the hub holds (accepted sockets on its path). */
  hubConnections: number;
  /** Sample lines /metrics serves. */
  series: number;
  scrapeMs: number;
  /** What the jobs report having run, and what /metrics counts. */
  turns: number;
  turnsInMetrics: number;
  sessionsOpened: number;
  sessionsClosed: number;
  activeSessions: number;
}

export interface SoakResult {
  options: Required<Omit<SoakOptions, 'log'>>;
  samples: SoakSample[];
  /** After the jobs stopped and /metrics caught up. */
  final: { turns: number; turnsInMetrics: number; llmRequests: number; sessions: number };
  /** Each failed criterion, in words; empty when the soak passed. */
  failures: string[];
}

const DEFAULTS = {
  jobs: 8,
  loops: 2,
  turnsPerSession: 5,
  ttftMs: 20,
  thinkMs: 150,
  agentNames: ['support', 'sales'],
  flushMs: 1_000,
};

interface Job {
  child: ChildProcess;
  pid: number;
  send(c: SoakJobCommand): void;
  next<T extends SoakJobReport['type']>(type: T): Promise<Extract<SoakJobReport, { type: T }>>;
}

function forkJob(): Promise<Job> {
  const child = fork(new URL('./soak-job.ts', import.meta.url), [], {
    execArgv: [...process.execArgv.filter((a) => a !== '--expose-gc'), '--expose-gc'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const inbox: SoakJobReport[] = [];
  const waiting: Array<() => void> = [];
  let exited = false;
  child.on('message', (m: SoakJobReport) => {
    inbox.push(m);
    waiting.splice(0).forEach((wake) => wake());
  });
  child.once('exit', () => {
    exited = true;
    waiting.splice(0).forEach((wake) => wake());
  });
  const job: Job = {
    child,
    pid: child.pid!,
    send: (c) => child.send(c),
    async next(type) {
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0] as never;
        if (exited) throw new Error(`soak job ${child.pid} exited before its ${type} report`);
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    },
  };
  return job.next('ready').then(() => job);
}

function scrape(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const fdCount = (pid: number | 'self') => readdirSync(`/proc/${pid}/fd`).length;

/** Sockets bound to `path` in /proc/net/unix, less the listening one: the accepted peers. */
function hubConnections(path: string): number {
  const lines = readFileSync('/proc/net/unix', 'utf8').split('\n');
  return lines.filter((line) => line.endsWith(` ${path}`)).length - 1;
}

function selfSample(): ProcessSample {
  global.gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss, fds: fdCount('self') };
}

const sumCounts = (reports: SoakJobCounts[]) =>
  reports.reduce(
    (a, r) => ({
      turns: a.turns + r.turns,
      sessionsOpened: a.sessionsOpened + r.sessionsOpened,
      sessionsClosed: a.sessionsClosed + r.sessionsClosed,
    }),
    { turns: 0, sessionsOpened: 0, sessionsClosed: 0 },
  );

/** Turns in /metrics: LLM requests (one per turn here), from the histogram and the counter. */
function countsIn(text: string) {
  const samples = parseExposition(text);
  return {
    samples,
    ttftCount: sumOf(samples, 'lk_agents_llm_ttft_seconds_count'),
    llmRequests: sumOf(samples, 'lk_agents_requests_total', { component: 'llm' }),
    active: sumOf(samples, 'lk_agents_active_sessions'),
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const o = { ...DEFAULTS, ...options };
  const log = options.log ?? (() => {});
  const server = await startMetricsServer({ port: 0, host: '127.0.0.1', flushMs: o.flushMs });
  const hubPath = (JSON.parse(process.env[HUB_ENV]!) as { path: string }).path;
  const jobs = await Promise.all(Array.from({ length: o.jobs }, forkJob));
  const samples: SoakSample[] = [];
  try {
    const plan: SoakJobPlan = {
      loops: o.loops,
      turnsPerSession: o.turnsPerSession,
      ttftMs: o.ttftMs,
      thinkMs: o.thinkMs,
      agentNames: o.agentNames,
    };
    const start = performance.now();
    for (const job of jobs) job.send({ type: 'run', ...plan });
    const takeSample = async (): Promise<SoakSample> => {
      const t = performance.now();
      const text = await scrape(server.url);
      const scrapeMs = performance.now() - t;
      const reports = await Promise.all(
        jobs.map(async (j) => {
          j.send({ type: 'sample' });
          return j.next('sample');
        }),
      );
      const c = countsIn(text);
      return {
        atMs: performance.now() - start,
        worker: selfSample(),
        jobs: reports.map((r, i) => ({
          heapUsed: r.heapUsed,
          rss: r.rss,
          fds: fdCount(jobs[i]!.pid),
        })),
        hubConnections: hubConnections(hubPath),
        series: c.samples.length,
        scrapeMs,
        ...sumCounts(reports),
        turnsInMetrics: c.ttftCount,
        activeSessions: c.active,
      };
    };
    for (let next = o.sampleMs; next <= o.durationMs; next += o.sampleMs) {
      await new Promise((r) => setTimeout(r, next - (performance.now() - start)));
      const sample = await takeSample();
      samples.push(sample);
      log(describeSample(sample));
    }
    for (const job of jobs) job.send({ type: 'stop' });
    const stopped = sumCounts(await Promise.all(jobs.map((j) => j.next('stopped'))));
    // closing a session delivers what is pending; allow a few flush intervals
    let c = countsIn(await scrape(server.url));
    const deadline = performance.now() + 5 * o.flushMs;
    while (c.ttftCount < stopped.turns && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      c = countsIn(await scrape(server.url));
    }
    const final = {
      turns: stopped.turns,
      turnsInMetrics: c.ttftCount,
      llmRequests: c.llmRequests,
      sessions: stopped.sessionsClosed,
    };
    return {
      options: { ...o, durationMs: o.durationMs } as SoakResult['options'],
      samples,
      final,
      failures: judge(samples, final, o.warmupMs, o.jobs, o.flushMs),
    };
  } finally {
    for (const job of jobs) job.child.kill('SIGKILL');
    await server.close();
  }
}

const MiB = 1024 * 1024;

/**
 * The criteria. After warm-up the samples are split into an earlier and a later half; a
 * quantity is flat when the later half's largest value is within the allowance of the earlier
 * half's largest: heap (after a full GC) +10% + 1 MiB, RSS +15% + 8 MiB, file descriptors +2,
 * per process. The hub holds exactly one connection per job, and /metrics serves the same
 * number of series, at every sample after warm-up. /metrics never counts more turns than the
 * jobs ran, and after the jobs stopped it counts every one, in the histogram and the counter.
 */
export function judge(
  samples: SoakSample[],
  final: SoakResult['final'],
  warmupMs: number,
  jobs: number,
  flushMs: number,
): string[] {
  const failures: string[] = [];
  const after = samples.filter((s) => s.atMs >= warmupMs);
  if (after.length < 2) return [`only ${after.length} samples after warm-up`];
  const half = Math.floor(after.length / 2);
  const early = after.slice(0, half);
  const late = after.slice(half);
  const flat = (what: string, pick: (s: SoakSample) => number, pct: number, abs: number) => {
    const a = Math.max(...early.map(pick));
    const b = Math.max(...late.map(pick));
    if (b > a * (1 + pct) + abs) failures.push(`${what} grew: ${a} → ${b}`);
  };
  const procs: Array<[string, (s: SoakSample) => ProcessSample]> = [['worker', (s) => s.worker]];
  for (let i = 0; i < jobs; i++) procs.push([`job ${i + 1}`, (s) => s.jobs[i]!]);
  for (const [name, p] of procs) {
    flat(`${name} heap`, (s) => p(s).heapUsed, 0.1, MiB);
    flat(`${name} RSS`, (s) => p(s).rss, 0.15, 8 * MiB);
    flat(`${name} file descriptors`, (s) => p(s).fds, 0, 2);
  }
  for (const s of after) {
    if (s.hubConnections !== jobs) {
      failures.push(`${s.hubConnections} hub connections at ${s.atMs.toFixed(0)} ms`);
    }
    if (s.series !== after[0]!.series) {
      failures.push(`${s.series} series at ${s.atMs.toFixed(0)} ms, ${after[0]!.series} before`);
    }
  }
  for (const s of samples) {
    if (s.turnsInMetrics > s.turns) {
      failures.push(`/metrics counted ${s.turnsInMetrics} turns of ${s.turns} run`);
    }
  }
  if (final.turnsInMetrics !== final.turns || final.llmRequests !== final.turns) {
    failures.push(
      `${final.turns} turns run, /metrics counts ${final.turnsInMetrics} (histogram) and ` +
        `${final.llmRequests} (requests_total) ${5 * flushMs} ms after the jobs stopped`,
    );
  }
  return failures;
}

const mib = (b: number) => (b / MiB).toFixed(1);

export function describeSample(s: SoakSample): string {
  const maxJob = (k: keyof ProcessSample) => Math.max(...s.jobs.map((j) => j[k]));
  return (
    `${(s.atMs / 1000).toFixed(0)} s: worker heap ${mib(s.worker.heapUsed)} MiB, rss ` +
    `${mib(s.worker.rss)} MiB, fds ${s.worker.fds}; jobs max heap ${mib(maxJob('heapUsed'))} ` +
    `MiB, rss ${mib(maxJob('rss'))} MiB, fds ${maxJob('fds')}; hub connections ` +
    `${s.hubConnections}; series ${s.series}; scrape ${s.scrapeMs.toFixed(1)} ms; turns ` +
    `${s.turns} (in /metrics ${s.turnsInMetrics}); sessions ${s.sessionsOpened}`
  );
}
