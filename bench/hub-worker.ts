/**
 * A worker main process for `npm run bench` (forked by bench/core.bench.ts, so the bench
 * process's own sessions stay out of these numbers): it serves /metrics with
 * startMetricsServer (default flush interval), forks JOBS job processes (bench/hub-job.ts) and
 * measures
 *
 * - hub throughput: every job records as fast as it can for RECORD_MS; the hub's totals (read
 *   from /metrics) must come to exactly what the jobs recorded; samples/s is that total over
 *   the recording time, and the lag is how long after the jobs stopped the totals were complete;
 * - scrape time: SESSIONS sessions open across the jobs, then SCRAPES sequential GETs of
 *   /metrics, each timed from request to last byte on 127.0.0.1; interleaved with GETs of the
 *   same bytes from a static server in this process, the HTTP and client share of that time.
 *
 * It sends its HubBenchResult to its parent over IPC and exits.
 */
import { fork } from 'node:child_process';
import { createServer, get } from 'node:http';
import { plugin } from './plugin.js';
import type { HubJobCommand, HubJobReport } from './hub-job.js';

const { startMetricsServer } = plugin;

export interface HubBenchResult {
  jobs: number;
  flushMs: number;
  throughput: {
    recordMs: number;
    recorded: number;
    delivered: number;
    samplesPerSecond: number;
    perJobPerSecond: number;
    lagMs: number;
    /** CPU time this process (the hub, and /metrics) used while the jobs recorded. */
    hubCpuMs: number;
  };
  scrape: {
    sessions: number;
    scrapes: number;
    medianMs: number;
    p95Ms: number;
    staticMedianMs: number;
    staticP95Ms: number;
    bytes: number;
    samples: number;
  };
}

const JOBS = 8;
const RECORD_MS = 4_000;
const SESSIONS = 200;
const SCRAPES = 200;
const FLUSH_MS = 1_000;

const server = await startMetricsServer({ port: 0, host: '127.0.0.1', flushMs: FLUSH_MS });

interface Job {
  send(c: HubJobCommand): void;
  next(type: HubJobReport['type']): Promise<HubJobReport>;
  kill(): void;
}

function forkJob(): Job {
  const child = fork(new URL('./hub-job.ts', import.meta.url), [], {
    execArgv: process.execArgv,
  });
  const inbox: HubJobReport[] = [];
  const waiting: Array<() => void> = [];
  child.on('message', (m: HubJobReport) => {
    inbox.push(m);
    waiting.splice(0).forEach((wake) => wake());
  });
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) throw new Error(`bench job exited with ${code}`);
  });
  return {
    send: (c) => child.send(c),
    async next(type) {
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0]!;
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/** A GET with node's plain HTTP client: a scraper's own cost (undici's fetch adds ~2 ms on
 * this machine, Prometheus's Go client far less) should not be billed to the endpoint. */
function scrape(url = server.url): Promise<string> {
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

const median = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)]!;
const p95 = (sorted: number[]) => sorted[Math.ceil(sorted.length * 0.95) - 1]!;

/** Sums a family's histogram `_count` lines (every label set) in a text exposition. */
function histogramCounts(text: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (/^lk_agents_\w+_count[{ ]/.test(line)) sum += Number(line.slice(line.lastIndexOf(' ')));
  }
  return sum;
}

const jobs = Array.from({ length: JOBS }, forkJob);
await Promise.all(jobs.map((j) => j.next('ready')));
const before = histogramCounts(await scrape());

// Throughput
const cpuBefore = process.cpuUsage();
for (const j of jobs) j.send({ type: 'record', ms: RECORD_MS });
const recordedReports = (await Promise.all(jobs.map((j) => j.next('recorded')))) as Array<
  Extract<HubJobReport, { type: 'recorded' }>
>;
const stopped = performance.now();
const cpu = process.cpuUsage(cpuBefore);
const recorded = recordedReports.reduce((sum, r) => sum + r.samples, 0);
let delivered = 0;
for (;;) {
  delivered = histogramCounts(await scrape()) - before;
  if (delivered >= recorded || performance.now() - stopped > 5 * FLUSH_MS) break;
  await new Promise((r) => setTimeout(r, 10));
}
const lagMs = performance.now() - stopped;
const recordMs = Math.max(...recordedReports.map((r) => r.ms));

// Scrape time with SESSIONS sessions open
const names = ['support', 'sales', 'billing', 'triage'];
for (const j of jobs) {
  j.send({ type: 'open', count: SESSIONS / JOBS, replays: 2, agentNames: names });
}
await Promise.all(jobs.map((j) => j.next('opened')));
let body = '';
for (;;) {
  body = await scrape();
  if (new RegExp(`^lk_agents_active_sessions ${SESSIONS}$`, 'm').test(body)) break;
  await new Promise((r) => setTimeout(r, 50));
}
const fixed = body;
const staticServer = createServer((_req, res) =>
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(fixed),
);
await new Promise<void>((resolve) => staticServer.listen(0, '127.0.0.1', resolve));
const address = staticServer.address();
const staticUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
const times: number[] = [];
const staticTimes: number[] = [];
for (let i = 0; i < 5 + SCRAPES; i++) {
  let start = performance.now();
  body = await scrape();
  const t = performance.now() - start;
  start = performance.now();
  await scrape(staticUrl);
  const s = performance.now() - start;
  if (i < 5) continue; // warm up
  times.push(t);
  staticTimes.push(s);
}
staticServer.close();
times.sort((a, b) => a - b);
staticTimes.sort((a, b) => a - b);

const result: HubBenchResult = {
  jobs: JOBS,
  flushMs: FLUSH_MS,
  throughput: {
    recordMs,
    recorded,
    delivered,
    samplesPerSecond: delivered / (recordMs / 1000),
    perJobPerSecond: delivered / (recordMs / 1000) / JOBS,
    lagMs,
    hubCpuMs: (cpu.user + cpu.system) / 1000,
  },
  scrape: {
    sessions: SESSIONS,
    scrapes: SCRAPES,
    medianMs: median(times),
    p95Ms: p95(times),
    staticMedianMs: median(staticTimes),
    staticP95Ms: p95(staticTimes),
    bytes: Buffer.byteLength(body),
    samples: body.split('\n').filter((l) => l && !l.startsWith('#')).length,
  },
};
for (const j of jobs) j.kill();
await server.close();
process.send!(result, undefined, {}, () => process.exit(0));
