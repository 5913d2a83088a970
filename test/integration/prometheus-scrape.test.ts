/**
 * A real Prometheus scrapes three workers ("machines"), each a main process serving /metrics
 * with two forked job processes running real AgentSessions (test/fixtures/worker.ts), and the
 * PromQL a dashboard would run gives the numbers the injected latencies imply.
 *
 * Each job's LLM answers with a known TTFT. The values sit in the low part of their histogram
 * buckets (110 ms in (0.1, 0.2], 210 in (0.2, 0.3], 320 in (0.3, 0.5], 520 in (0.5, 0.75]): a
 * recorded TTFT is the injected one, at most a couple of ms early (libuv's cached loop time)
 * and, when a loaded machine runs timers late, later; so there are 10 ms of room below and 90
 * to 230 above. The bucket counts are then known exactly, and so is what histogram_quantile's
 * linear interpolation inside a bucket gives; the test checks every recorded TTFT is in its
 * injected bucket before it relies on that. The workers' distributions
 * differ, so the union's p90 moves if a worker is missing or counted twice.
 *
 * rate() or increase()? The same: histogram_quantile reads only the buckets' proportions, and
 * rate is increase divided by the range. Either one sees only what a series gained between its
 * first and last sample in the range; Prometheus does not count a series' appearance as an
 * increase from zero. So each job makes one warm-up turn first, the test waits until Prometheus
 * has scraped every job's series, and only then are the measured turns run: the increase is
 * exactly the measured turns, times an extrapolation factor. increase() extrapolates each series
 * to the ends of the range by at most 1.1 average sample intervals at each end, so its factor
 * lies in [1, 1 + 2.2 · interval / sampled span]. The factor is the same for every bucket of a
 * series (one scrape writes them all, and the test checks that the "not below zero" limit does
 * not bite), but differs between series, which weights the workers' distributions slightly
 * differently. The tolerance is therefore computed, not guessed: the quantile of every
 * combination of extreme factors per series, from the sample timestamps Prometheus holds. The
 * test waits until that band is narrow enough to exclude a missing or double-counted worker.
 *
 * The quantile over the raw cumulative buckets (no range, no extrapolation) must match exactly.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_LATENCY_BUCKETS_SECONDS } from '../../src/prometheus/metric-families.js';
import type { WorkerEvent, WorkerPlan } from '../fixtures/worker.js';
import { PrometheusServer, type RangeSeries } from '../support/prometheus-server.js';

const WORKER_FIXTURE = new URL('../fixtures/worker.ts', import.meta.url);
const [A, B, C, D] = [110, 210, 320, 520];
const WARMUP_MS = 10;
const PLANS: WorkerPlan[] = [
  {
    jobs: [
      { agentName: 'w1-a', warmupTtftMs: WARMUP_MS, turnsTtftMs: [A, A, A, B] },
      { agentName: 'w1-b', warmupTtftMs: WARMUP_MS, turnsTtftMs: [A, B, C, C] },
    ],
  },
  {
    jobs: [
      { agentName: 'w2-a', warmupTtftMs: WARMUP_MS, turnsTtftMs: [A, B, B, C] },
      { agentName: 'w2-b', warmupTtftMs: WARMUP_MS, turnsTtftMs: [A, B, C, D] },
    ],
  },
  {
    jobs: [
      { agentName: 'w3-a', warmupTtftMs: WARMUP_MS, turnsTtftMs: [B, C, D, D] },
      { agentName: 'w3-b', warmupTtftMs: WARMUP_MS, turnsTtftMs: [C, D, D, D] },
    ],
  },
];
const JOBS = PLANS.flatMap((p) => p.jobs);
const MEASURED_TURNS = JOBS.reduce((n, j) => n + j.turnsTtftMs.length, 0);
const RANGE_SECONDS = 60;

/** Bounds with +Inf last, as the `le` labels of every bucket series. */
const BOUNDS = [...DEFAULT_LATENCY_BUCKETS_SECONDS, Infinity];

/** Per-bucket (not cumulative) counts of values, in the exporter's buckets. */
function bucketCounts(valuesSeconds: number[]): number[] {
  const counts = BOUNDS.map(() => 0);
  for (const v of valuesSeconds) counts[BOUNDS.findIndex((b) => v <= b)]! += 1;
  return counts;
}

/** Prometheus's histogram_quantile over per-bucket counts (promql/quantile.go, bucketQuantile). */
function histogramQuantile(q: number, counts: number[]): number {
  const cumulative: number[] = [];
  counts.reduce((sum, c, i) => (cumulative[i] = sum + c), 0);
  const total = cumulative.at(-1)!;
  if (total === 0) return NaN;
  const rank = q * total;
  const b = cumulative.findIndex((c, i) => i < cumulative.length - 1 && c >= rank);
  if (b < 0) return BOUNDS[BOUNDS.length - 2]!; // in the +Inf bucket: the highest finite bound
  const start = b === 0 ? 0 : BOUNDS[b - 1]!;
  const below = b === 0 ? 0 : cumulative[b - 1]!;
  return start + (BOUNDS[b]! - start) * ((rank - below) / (cumulative[b]! - below));
}

const weighted = (parts: number[][], weights: number[]) =>
  BOUNDS.map((_, i) => parts.reduce((sum, p, k) => sum + p[i]! * weights[k]!, 0));

/** A worker fixture: its `LKAM` events, and commands on its stdin. */
class Worker {
  readonly proc: ChildProcess;
  readonly events: WorkerEvent[] = [];
  private wake: (() => void) | undefined;

  constructor(plan: WorkerPlan) {
    this.proc = spawn(
      process.execPath,
      [...process.execArgv, WORKER_FIXTURE.pathname, JSON.stringify(plan)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      if (!line.startsWith('LKAM ')) return;
      this.events.push(JSON.parse(line.slice(5)) as WorkerEvent);
      this.wake?.();
    });
    this.proc.once('exit', () => this.wake?.());
  }

  async event<T extends WorkerEvent['type']>(
    type: T,
    timeoutMs = 60_000,
  ): Promise<Extract<WorkerEvent, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e.type === type);
      if (found) return found as Extract<WorkerEvent, { type: T }>;
      if (this.proc.exitCode !== null) throw new Error(`worker exited before '${type}'`);
      if (Date.now() > deadline) throw new Error(`worker: no '${type}' in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  }

  command(line: 'go' | 'end'): void {
    this.proc.stdin!.write(`${line}\n`);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

describe('Prometheus scraping three workers', { timeout: 120_000 }, () => {
  let prometheus: PrometheusServer | undefined;
  const workers: Worker[] = [];
  const jobPids: number[] = [];
  let targets: string[] = [];
  const started = Date.now();
  /** TTFT samples each job recorded, by agent name, in seconds. */
  const warmups: Record<string, number[]> = {};
  let recorded: Record<string, number[]> = {};

  before(async () => {
    for (const plan of PLANS) workers.push(new Worker(plan));
    const listening = await Promise.all(workers.map((w) => w.event('listening')));
    targets = listening.map((l) => new URL(l.url).host);
    // Prometheus starts while the job processes load
    prometheus = await PrometheusServer.start(targets, 1);
    const ready = Date.now();
    const warm = await Promise.all(workers.map((w) => w.event('warm', 90_000)));
    console.log(
      `prometheus-scrape: workers listening and Prometheus ready after ` +
        `${((ready - started) / 1000).toFixed(1)} s, jobs warm after ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    for (const w of warm) {
      jobPids.push(...w.jobPids);
      Object.assign(warmups, w.ttftSeconds);
    }
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    // a worker ends its jobs itself; any that survived a killed worker end here
    for (const pid of jobPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await prometheus?.stop();
    console.log(`prometheus-scrape: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
  });

  it('scrapes every worker, and sees every job series before the measured turns', async () => {
    const p = prometheus!;
    await p.until('all three targets are up', async () => {
      const active = await p.targets();
      const up = active.filter((t) => t.health === 'up').length;
      return up === 3 ? active : undefined;
    });
    const active = await p.targets();
    assert.deepEqual(active.map((t) => t.labels.instance).sort(), [...targets].sort());
    await p.until('every job series has its warm-up sample', async () => {
      const perJob = await p.query('lk_agents_llm_ttft_seconds_count');
      return perJob.length === JOBS.length && perJob.every((s) => s.value[1] === '1')
        ? perJob
        : undefined;
    });
    for (const [agent, values] of Object.entries(warmups)) {
      assert.equal(values.length, 1, `${agent} warm-up`);
      // below every measured bucket, so each bucket that gains later already counts it (see the
      // zero limit above)
      // What the expected quantiles need is that every warm-up sits at or below 0.5 s (under the
      // bucket that holds the p90); 10 ms injected lands in the first bucket unless the
      // machine is loaded, when a first turn's start-up cost can add a few hundred ms.
      assert.ok(values[0]! <= 0.5, `${agent} warm-up TTFT ${values[0]} s, not below 0.5 s`);
    }
  });

  it('gives the p90 the injected TTFTs imply, with histogram_quantile', async () => {
    const p = prometheus!;
    for (const w of workers) w.command('go');
    const done = await Promise.all(workers.map((w) => w.event('done')));
    recorded = Object.assign({}, ...done.map((d) => d.ttftSeconds)) as Record<string, number[]>;
    const measured: Record<string, number[]> = {};
    for (const job of JOBS) {
      const values = recorded[job.agentName]!.slice(1); // after the warm-up
      measured[job.agentName] = values;
      assert.equal(values.length, job.turnsTtftMs.length);
      job.turnsTtftMs.forEach((injected, i) => {
        assert.deepEqual(
          bucketCounts([values[i]!]),
          bucketCounts([injected / 1000]),
          `${job.agentName} turn ${i + 1}: recorded ${values[i]} s, injected ${injected} ms`,
        );
      });
    }
    // what the injected latencies imply, by the same interpolation Prometheus does
    const injectedCounts = bucketCounts(JOBS.flatMap((j) => j.turnsTtftMs.map((t) => t / 1000)));
    const impliedP90 = histogramQuantile(0.9, injectedCounts);
    // 24 values, 6 per bucket: rank 21.6 is 3.6 of 6 into (0.5, 0.75]
    assert.ok(Math.abs(impliedP90 - 0.65) < 1e-12, `implied p90 ${impliedP90}`);

    const total = JOBS.length + MEASURED_TURNS;
    await p.until('Prometheus has every measured turn', async () => {
      const n = await p.scalar('sum(lk_agents_llm_ttft_seconds_count)');
      return n === total ? n : undefined;
    });

    // Wait until the sampled span is long enough for the band to be discriminating (see above).
    let T = 0;
    let windows: ReturnType<typeof seriesWindows> = [];
    await p.until(
      'the extrapolation band is narrow',
      async () => {
        T = Date.now() / 1000;
        windows = seriesWindows(
          await p.rawSamples(`lk_agents_llm_ttft_seconds_bucket[${RANGE_SECONDS}s]`, T),
        );
        return windows.every((w) => w.sampled >= 10 * w.interval) ? windows : undefined;
      },
      30_000,
    );
    for (const w of windows) {
      assert.ok(
        w.firstAt - (T - RANGE_SECONDS) > 1.1 * w.interval,
        `${w.agent}: born inside the range (the test took longer than ${RANGE_SECONDS} s?)`,
      );
      assert.deepEqual(w.increase, bucketCounts(measured[w.agent]!), `${w.agent}: the increase`);
      for (const [le, first, gain] of w.cumulative) {
        if (gain > 0) {
          assert.ok(
            (w.sampled * first) / gain >= 1.1 * w.interval,
            `${w.agent} le=${le}: the zero limit would change this bucket's extrapolation`,
          );
        }
      }
    }

    const parts = windows.map((w) => w.increase);
    const corners = windows.reduce<number[][]>(
      (acc, w) =>
        acc.flatMap((ws) => [
          [...ws, 1],
          [...ws, 1 + (2.2 * w.interval) / w.sampled],
        ]),
      [[]],
    );
    const band = corners.map((ws) => histogramQuantile(0.9, weighted(parts, ws)));
    const [lo, hi] = [Math.min(...band), Math.max(...band)];
    // the band still tells a correct sum from a worker missing or counted twice
    for (const k of [0, 1, 2]) {
      for (const wrong of [0, 2]) {
        const ws = windows.map((w) => (w.agent.startsWith(`w${k + 1}-`) ? wrong : 1));
        const q = histogramQuantile(0.9, weighted(parts, ws));
        assert.ok(q < lo || q > hi, `worker ${k + 1} × ${wrong} gives ${q}, inside [${lo}, ${hi}]`);
      }
    }

    const byIncrease = await p.scalar(
      `histogram_quantile(0.9, sum by (le) (increase(lk_agents_llm_ttft_seconds_bucket[${RANGE_SECONDS}s])))`,
      T,
    );
    const byRate = await p.scalar(
      `histogram_quantile(0.9, sum by (le) (rate(lk_agents_llm_ttft_seconds_bucket[${RANGE_SECONDS}s])))`,
      T,
    );
    console.log(
      `p90 by increase(): ${byIncrease} s; implied ${impliedP90} s; band [${lo.toFixed(4)}, ` +
        `${hi.toFixed(4)}] (sampled ≥ ${Math.min(...windows.map((w) => w.sampled)).toFixed(1)} s)`,
    );
    assert.ok(byIncrease! >= lo - 1e-9 && byIncrease! <= hi + 1e-9, `p90 ${byIncrease}`);
    assert.ok(Math.abs(byRate! - byIncrease!) < 1e-9, `rate ${byRate} vs increase ${byIncrease}`);

    // since the workers started: warm-ups included, no range, so no extrapolation: exact
    const lifetime = histogramQuantile(0.9, bucketCounts(Object.values(recorded).flat()));
    const byCounters = await p.scalar(
      'histogram_quantile(0.9, sum by (le) (lk_agents_llm_ttft_seconds_bucket))',
    );
    assert.ok(Math.abs(byCounters! - lifetime) < 1e-9, `lifetime p90 ${byCounters} vs ${lifetime}`);
    // 30 values, 6 warm-ups at most 0.5 s: rank 27 is 3 of 6 into (0.5, 0.75]
    assert.ok(Math.abs(lifetime - 0.625) < 1e-12);
  });

  it('sums every LLM request across the three workers', async () => {
    const p = prometheus!;
    const expected = JOBS.length + MEASURED_TURNS; // a warm-up and the measured turns per job
    assert.equal(await p.scalar('sum(lk_agents_requests_total{component="llm"})'), expected);
    const perWorker = await p.query(
      'sum by (instance) (lk_agents_requests_total{component="llm"})',
    );
    assert.deepEqual(
      perWorker.map((s) => Number(s.value[1])),
      [10, 10, 10],
      'each worker: 2 jobs × (1 warm-up + 4 turns)',
    );
    const reported = (await Promise.all(workers.map((w) => w.event('done')))).flatMap((d) =>
      Object.values(d.llmRequests),
    );
    assert.equal(
      reported.reduce((a, b) => a + b, 0),
      expected,
    );
    assert.equal(await p.scalar('sum(lk_agents_errors_total)'), undefined, 'no error series');
  });

  it('shows the open sessions, and none once the jobs have ended', async () => {
    const p = prometheus!;
    await p.until('six open sessions', async () => {
      const n = await p.scalar('sum(lk_agents_active_sessions)');
      return n === JOBS.length ? n : undefined;
    });
    assert.deepEqual(
      (await p.query('lk_agents_active_sessions')).map((s) => Number(s.value[1])),
      [2, 2, 2],
      'two per worker',
    );
    for (const w of workers) w.command('end');
    const ended = await Promise.all(workers.map((w) => w.event('ended')));
    for (const e of ended)
      assert.deepEqual(e.exits, [
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
    await p.until('no open sessions', async () => {
      const n = await p.scalar('sum(lk_agents_active_sessions)');
      return n === 0 ? n : undefined;
    });
    assert.equal(await p.scalar('sum(lk_agents_peak_sessions)'), JOBS.length);
    // the jobs are gone, what they counted stays
    assert.equal(
      await p.scalar('sum(lk_agents_requests_total{component="llm"})'),
      JOBS.length + MEASURED_TURNS,
    );
    assert.equal(await p.scalar('sum(resets(lk_agents_requests_total[1m]))'), 0);
  });
});

/** Per job series: its samples in the range, and what each bucket gained over them. */
function seriesWindows(raw: RangeSeries[]) {
  const byAgent = new Map<string, RangeSeries[]>();
  for (const s of raw) {
    const agent = s.metric.agent_name!;
    byAgent.set(agent, [...(byAgent.get(agent) ?? []), s]);
  }
  return [...byAgent].map(([agent, series]) => {
    series.sort((x, y) => bound(x) - bound(y));
    const times = series[0]!.values.map(([t]) => t);
    for (const s of series)
      assert.deepEqual(
        s.values.map(([t]) => t),
        times,
        'one scrape each',
      );
    const sampled = times.at(-1)! - times[0]!;
    const cumulative = series.map((s): [string, number, number] => {
      const first = Number(s.values[0]![1]);
      return [s.metric.le!, first, Number(s.values.at(-1)![1]) - first];
    });
    const increase = cumulative.map(([, , gain], i) => gain - (i > 0 ? cumulative[i - 1]![2] : 0));
    return {
      agent,
      firstAt: times[0]!,
      sampled,
      interval: sampled / Math.max(1, times.length - 1),
      cumulative,
      increase,
    };
  });
}

function bound(s: RangeSeries): number {
  return s.metric.le === '+Inf' ? Infinity : Number(s.metric.le);
}
