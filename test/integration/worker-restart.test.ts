/**
 * The worker's main process dies (SIGKILL) and a new one starts on the same /metrics port while
 * its job processes keep running turns: the jobs keep the hub address they inherited, find the
 * new hub there (a fixed port gives the hub's socket a stable directory) and deliver to it. A
 * real Prometheus scrapes across the restart. The new hub starts from the totals the old one
 * saved (it saves them before a scrape or an acknowledgement can see them), so no counter goes
 * back (`resets()` is 0: a restart that Prometheus would otherwise see as a drop, or not see at
 * all when the new counts overtake the old before the first scrape, which makes `increase()`
 * lose everything before it), `rate()` shows no spike, and Prometheus counts every turn the
 * jobs ran exactly once.
 *
 * The job processes are forked by the test rather than by the worker, so that they survive the
 * worker and report every turn over IPC; the hub only knows them by the address they inherit.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HUB_ENV } from '../../src/prometheus/hub/protocol.js';
import { stableDirName } from '../../src/prometheus/hub/socket-dir.js';
import { parseExposition, sumOf } from '../support/exposition-parser.js';
import { JobProcess } from '../support/job-process.js';
import { MetricsWorker } from '../support/metrics-worker.js';
import { PrometheusServer, freePort } from '../support/prometheus-server.js';

const FLUSH_MS = 200;
const TTFT_MS = 20;
const COUNT = 'lk_agents_llm_ttft_seconds_count';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function scrapeCount(url: string): Promise<{ turns: number; active: number }> {
  const samples = parseExposition(await (await fetch(url)).text());
  return { turns: sumOf(samples, COUNT), active: sumOf(samples, 'lk_agents_active_sessions') };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('a worker main process that restarts while its jobs run', () => {
  const cleanup: Array<() => Promise<unknown> | void> = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('gets its jobs back at the same hub address; Prometheus sees no reset, no spike, every turn once', async () => {
    const port = await freePort();
    // the hub's stable directory for this port, with the totals it saves: none from an earlier
    // run, none left after this one
    const stableDir = join(tmpdir(), stableDirName(`port-${port}`));
    rmSync(stableDir, { recursive: true, force: true });
    cleanup.push(() => rmSync(stableDir, { recursive: true, force: true }));
    const first = await MetricsWorker.start(port, FLUSH_MS);
    assert.equal(dirname(JSON.parse(first.hub).path), stableDir);
    cleanup.push(() => first.kill());
    const prometheus = await PrometheusServer.start([`127.0.0.1:${port}`], 1);
    cleanup.push(() => prometheus.stop());

    const jobs = [0, 1].map(() => new JobProcess({ ...process.env, [HUB_ENV]: first.hub }));
    cleanup.push(() => jobs.forEach((j) => j.kill()));
    const doneAt: number[] = [];
    for (const job of jobs) {
      job.child.on('message', (m: { type: string }) => {
        if (m.type === 'turn-done') doneAt.push(Date.now());
      });
    }
    await Promise.all(
      jobs.map(async (job) => {
        job.send({ type: 'start', labels: { agent_name: 'restart' }, ttftMenuMs: [TTFT_MS] });
        await job.report('started', 1, 60_000);
        job.send({ type: 'loop', ttftMs: TTFT_MS });
      }),
    );
    await until('the first worker to count turns', 20_000, async () =>
      (await scrapeCount(first.url)).turns > 0 ? true : undefined,
    );
    await until('three scrapes of the first worker', 20_000, async () => {
      const v = await prometheus.scalar(`count_over_time(sum(${COUNT})[1m:1s])`);
      return (v ?? 0) >= 3 ? true : undefined;
    });

    await first.kill('SIGKILL');
    const killedAt = Date.now();
    await sleep(1_500); // down: deliveries fail, the jobs keep what they record
    const second = await MetricsWorker.start(port, FLUSH_MS);
    cleanup.push(() => second.kill());
    assert.equal(
      JSON.parse(second.hub).path,
      JSON.parse(first.hub).path,
      'the new hub listens where the jobs look',
    );
    const back = await until('both jobs to deliver to the new hub', 20_000, async () => {
      const c = await scrapeCount(second.url);
      return c.active === 2 && c.turns > 0 ? Date.now() : undefined;
    });
    // a job's reconnection backoff doubles up to 5 s
    const listening = second.startedAt;
    console.log(
      `new worker listening ${listening - killedAt} ms after the kill; both jobs delivering ` +
        `${back - listening} ms after that`,
    );
    assert.ok(back - listening < 8_000, `jobs back ${back - listening} ms after the restart`);
    await sleep(3_000);

    for (const job of jobs) job.send({ type: 'stop' });
    await sleep(500); // the turns in progress end
    const ran = jobs.reduce((n, j) => n + j.turnsDone().length, 0);
    await until('the new hub to count the last turns and Prometheus to scrape it', 20_000, () =>
      prometheus.scalar(`sum(${COUNT})`).then((v) => (v !== undefined && v > 0 ? v : undefined)),
    );
    await sleep(2_500); // two more scrapes with nothing new: the last turns are in Prometheus
    const end = Date.now() / 1000;

    // The new hub started from the totals the old one saved: no series ever went down.
    const resets = await prometheus.query(`resets(${COUNT}[5m])`);
    assert.ok(resets.length > 0);
    for (const r of resets) assert.equal(r.value[1], '0', `resets of ${JSON.stringify(r.metric)}`);
    const series = await prometheus.rawSamples(`${COUNT}[5m]`, end);
    let counted = 0;
    let lastBeforeKill = 0;
    let firstAfterKill = Infinity;
    for (const s of series) {
      let previous = 0;
      for (const [t, v] of s.values) {
        const value = Number(v);
        assert.ok(value >= previous, `${COUNT} went from ${previous} to ${value}`);
        counted += value - previous;
        previous = value;
        if (t * 1000 < killedAt) lastBeforeKill = Math.max(lastBeforeKill, t * 1000);
        else firstAfterKill = Math.min(firstAfterKill, t * 1000);
      }
    }
    const beforeKill = doneAt.filter((t) => t <= killedAt).length;
    console.log(
      `turns run ${ran} (${beforeKill} before the kill), counted by Prometheus ${counted}; ` +
        `no scrape from ${killedAt - lastBeforeKill} ms before the kill to ` +
        `${firstAfterKill - killedAt} ms after it`,
    );
    // every turn once: none lost with the old process, none added twice by the new one
    assert.equal(counted, ran);
    assert.ok(beforeKill > 0 && beforeKill < ran, 'turns ran on both sides of the restart');

    // rate() across the restart: no spike above what the jobs actually ran.
    const start = end - 60;
    const rates = await prometheus.queryRange(`sum(rate(${COUNT}[3s]))`, start, end, 1);
    const peak = Math.max(...rates.flatMap((r) => r.values.map(([, v]) => Number(v))));
    const trueRates = [];
    for (let t = start; t <= end; t += 1) {
      const n = doneAt.filter((d) => d / 1000 > t - 3 && d / 1000 <= t).length;
      trueRates.push(n / 3);
    }
    const truePeak = Math.max(...trueRates);
    // The turns of the down time reach the new hub with the jobs' first delivery, so rate()
    // shows them where they arrive: its peak is the jobs' own rate plus that backlog, no more
    // (times 1.5: rate() extrapolates the 2 s its samples span to the 3 s window).
    const backlog = doneAt.filter((t) => t > lastBeforeKill && t <= back).length;
    console.log(
      `rate() peak ${peak.toFixed(1)}/s; the jobs' own peak over 3 s ${truePeak.toFixed(1)}/s; ` +
        `${backlog} turns ended while no hub took them`,
    );
    assert.ok(
      peak * 3 <= (truePeak * 3 + backlog) * 1.5,
      `rate() spiked to ${peak}/s: more than the jobs' peak ${truePeak}/s and the backlog`,
    );
  });
});
