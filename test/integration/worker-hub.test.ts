/**
 * A worker's main process (this test process) serves /metrics with startMetricsServer; real job
 * processes, forked the way the framework's process pool forks them, run real text-mode
 * AgentSessions with metrics attached and deliver their samples to the hub. Each job reports
 * over IPC the TTFT samples it recorded; /metrics is parsed as text and compared with them.
 *
 * Jobs that must be observed at the socket level reach the hub through a HubProxy (set in their
 * LIVEKIT_AGENTS_METRICS_HUB, the variable every job finds the hub by): it records which deltas
 * the hub acknowledged, and can cut a connection between a delta and its ack. The hub adds a
 * delta before it acknowledges it, so "acknowledged by the hub" is exactly "counted".
 *
 * Throughout, a ScrapeWatcher scrapes every 25 ms and records any cumulative series that went
 * down or disappeared.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MetricsServer, startMetricsServer } from '../../src/index.js';
import type { DeltaMessage } from '../../src/prometheus/hub/protocol.js';
import { HUB_ENV, parseHubAddress } from '../../src/prometheus/hub/protocol.js';
import { type ExpositionSample, sumOf } from '../support/exposition-parser.js';
import { HubProxy, carriesSamples } from '../support/hub-proxy.js';
import { JobProcess } from '../support/job-process.js';
import { ScrapeWatcher } from '../support/scrape-watcher.js';

const FLUSH_MS = 50;
/** Every TTFT the jobs may be asked for, in ms: inside buckets, away from their bounds. */
const TTFT_MENU_MS = [30, 120, 220, 330, 560, 5_000];

let server: MetricsServer;
let watcher: ScrapeWatcher;
const jobs: JobProcess[] = [];
/** When each step happened, printed at the end: on a shared small machine, where time went. */
const timeline: string[] = [];
const t0 = Date.now();
const mark = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);
const proxies: HubProxy[] = [];

async function startJob(agentName: string, env?: NodeJS.ProcessEnv): Promise<JobProcess> {
  const job = new JobProcess(env);
  jobs.push(job);
  // primed: a fresh process's first turn pays for cold code and lazy imports in its TTFT
  job.send({
    type: 'start',
    labels: { agent_name: agentName },
    ttftMenuMs: TTFT_MENU_MS,
    prime: true,
  });
  await job.report('started', 1, 60_000); // several tsx processes loading on a small machine
  mark(`${agentName} started (pid ${job.pid})`);
  return job;
}

async function scrapeUntil(
  what: string,
  ok: (s: ExpositionSample[]) => boolean,
  timeoutMs = 10_000,
): Promise<ExpositionSample[]> {
  const deadline = Date.now() + timeoutMs;
  let last: ExpositionSample[] = [];
  while (Date.now() < deadline) {
    last = await watcher.scrape();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting until ${what}`);
}

const ttftCount = (s: ExpositionSample[], agent: string) =>
  sumOf(s, 'lk_agents_llm_ttft_seconds_count', { agent_name: agent });
const llmRequests = (s: ExpositionSample[], agent: string) =>
  sumOf(s, 'lk_agents_requests_total', { agent_name: agent, component: 'llm' });
const activeSessions = (s: ExpositionSample[]) => sumOf(s, 'lk_agents_active_sessions');

/** The job's TTFT histogram on /metrics equals the samples it says it recorded. */
function assertHistogram(s: ExpositionSample[], agent: string, values: number[]): void {
  const buckets = s.filter(
    (x) => x.name === 'lk_agents_llm_ttft_seconds_bucket' && x.labels.agent_name === agent,
  );
  assert.ok(buckets.length > 0, `no TTFT buckets for ${agent}`);
  for (const b of buckets) {
    const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
    const expected = values.filter((v) => v <= le).length;
    assert.equal(b.value, expected, `${agent} bucket le=${b.labels.le}`);
  }
  assert.equal(ttftCount(s, agent), values.length, `${agent} count`);
  const sum = sumOf(s, 'lk_agents_llm_ttft_seconds_sum', { agent_name: agent });
  const expectedSum = values.reduce((a, v) => a + v, 0);
  assert.ok(Math.abs(sum - expectedSum) < 1e-9, `${agent} sum ${sum} != ${expectedSum}`);
}

/** What a set of acknowledged deltas added for one agent: TTFT samples and LLM requests. */
function fromDeltas(deltas: DeltaMessage[], agent: string) {
  let ttft = 0;
  let requests = 0;
  const buckets: number[] = [];
  for (const d of deltas) {
    for (const h of d.delta.histograms.ttft ?? []) {
      if (h.labels.agent_name !== agent) continue;
      ttft += h.count;
      h.counts.forEach((c, i) => (buckets[i] = (buckets[i] ?? 0) + c));
    }
    for (const c of d.delta.counters.requests ?? []) {
      if (c.labels.agent_name === agent && c.labels.component === 'llm') requests += c.value;
    }
  }
  return { ttft, requests, buckets };
}

before(async () => {
  server = await startMetricsServer({ port: 0, host: '127.0.0.1', flushMs: FLUSH_MS });
  watcher = new ScrapeWatcher(server.url, 25).start();
});

after(async () => {
  for (const job of jobs) job.kill();
  await Promise.all(jobs.map((j) => j.exited));
  await watcher?.stop();
  for (const p of proxies) await p.close();
  await server?.close();
  console.log(`worker-hub timeline:\n  ${timeline.join('\n  ')}`);
});

describe('job processes → the worker hub → /metrics', () => {
  it('counts every turn of jobs that finish normally, exactly once', async () => {
    const [a, b] = await Promise.all([startJob('normal-a'), startJob('normal-b')]);
    await scrapeUntil('both sessions are active', (s) => activeSessions(s) === 2);
    const aTurns = [120, 220, 330, 120, 560];
    const bTurns = [220, 30, 560, 330];
    await Promise.all([
      (async () => {
        for (const t of aTurns) await a!.turn(t);
      })(),
      (async () => {
        for (const t of bTurns) await b!.turn(t);
      })(),
    ]);
    mark('normal: turns done');
    // one ends the way the framework's job process does, the other exits the moment its
    // session has closed
    a!.send({ type: 'close', exit: 'framework' });
    b!.send({ type: 'close', exit: 'now' });
    assert.deepEqual(await a!.exited, { code: 0, signal: null });
    assert.deepEqual(await b!.exited, { code: 0, signal: null });
    mark('normal: jobs exited');
    // the hub forgets a job's sessions when its connection ends, after reading what it sent
    const s = await scrapeUntil('the jobs are gone', (x) => activeSessions(x) === 0);

    for (const [job, agent, turns] of [
      [a!, 'normal-a', aTurns],
      [b!, 'normal-b', bTurns],
    ] as const) {
      const recorded = job.recordedTtfts();
      assert.equal(recorded.length, turns.length, `${agent} recorded one TTFT per turn`);
      turns.forEach((injected, i) => {
        // the plugin recorded the injected TTFT: timers fire late on a loaded machine, and up to
        // a few ms early against the framework's clock (libuv's loop time is cached)
        const ms = recorded[i]! * 1000;
        assert.ok(ms > injected - 5 && ms < injected + 250, `${agent} turn ${i + 1}: ${ms} ms`);
      });
      assertHistogram(s, agent, recorded);
      assert.equal(llmRequests(s, agent), job.turnsDone().at(-1)!.llmRequests);
      assert.equal(llmRequests(s, agent), turns.length);
    }
    assert.equal(
      sumOf(s, 'lk_agents_requests_total', { component: 'llm' }),
      aTurns.length + bTurns.length,
    );
    assert.equal(sumOf(s, 'lk_agents_peak_sessions'), 2);
    // nothing arrives later
    await new Promise((r) => setTimeout(r, 4 * FLUSH_MS));
    assertHistogram(await watcher.scrape(), 'normal-a', a!.recordedTtfts());
    assert.deepEqual(watcher.violations, []);
  });

  it('keeps what a SIGKILLed job delivered, drops its sessions, and never goes down', async () => {
    const proxy = await HubProxy.start(parseHubAddress(process.env[HUB_ENV])!);
    proxies.push(proxy);
    // steady: turns one at a time, each confirmed on /metrics; racing: turns back to back
    // through the proxy, its deltas constantly in flight
    const [steady, racing] = await Promise.all([
      startJob('killed-steady'),
      startJob('killed-racing', proxy.env()),
    ]);
    await scrapeUntil('both sessions are active', (s) => activeSessions(s) === 2);

    racing!.send({ type: 'loop', ttftMs: 30 });
    for (const t of [120, 220, 330]) {
      const done = await steady!.turn(t);
      await scrapeUntil(`steady turn ${done.turn} counted`, (s) => {
        return ttftCount(s, 'killed-steady') === done.turn;
      });
    }
    // a lost ack while racing: the delta is re-sent with the same seq, and must count once
    proxy.inject('cut-before-ack', carriesSamples);
    await racing!.report('turn-done', racing!.turnsDone().length + 5);

    // steady dies while its fourth LLM request waits for a first token: nothing of it counted
    steady!.send({ type: 'turn', ttftMs: 5_000 });
    await steady!.report('turn-started', 4);
    await new Promise((r) => setTimeout(r, 3 * FLUSH_MS));
    steady!.kill('SIGKILL');
    mark('killed: steady killed');
    // racing dies right after reporting a turn, when that turn's samples are most likely
    // recorded but unsent, or sent but unacknowledged
    await racing!.report('turn-done', racing!.turnsDone().length + 2);
    racing!.kill('SIGKILL');
    mark(`killed: racing killed after ${racing!.turnsDone().length} turns`);
    assert.equal((await steady!.exited).signal, 'SIGKILL');
    assert.equal((await racing!.exited).signal, 'SIGKILL');
    await proxy.idle(); // the hub has read everything racing sent, and answered it

    const s = await scrapeUntil(
      'the killed jobs sessions are gone',
      (x) => activeSessions(x) === 0,
    );
    assertHistogram(s, 'killed-steady', steady!.recordedTtfts());
    assert.equal(steady!.recordedTtfts().length, 3);
    assert.equal(llmRequests(s, 'killed-steady'), 3, 'the unfinished request is not counted');

    const acked = fromDeltas(proxy.ackedDeltas(), 'killed-racing');
    const reported = racing!.recordedTtfts().length;
    assert.ok(reported >= 10, `racing ran ${reported} turns`);
    assert.equal(ttftCount(s, 'killed-racing'), acked.ttft, 'TTFT count = what the hub acked');
    assert.equal(llmRequests(s, 'killed-racing'), acked.requests, 'requests = what was acked');
    const buckets = s
      .filter(
        (x) =>
          x.name === 'lk_agents_llm_ttft_seconds_bucket' && x.labels.agent_name === 'killed-racing',
      )
      .map((x) => x.value);
    let cumulative = 0;
    assert.deepEqual(
      buckets,
      acked.buckets.map((c) => (cumulative += c)),
      'buckets = what was acked',
    );
    // what was lost is at most what the job recorded after its last acknowledged delivery
    assert.ok(acked.ttft <= reported + 1, `acked ${acked.ttft}, reported ${reported}`);
    assert.ok(acked.ttft >= reported - 3, `acked ${acked.ttft}, reported ${reported}`);
    const ids = proxy.forwarded.map((d) => `${d.job}:${d.seq}`);
    assert.ok(ids.length > new Set(ids).size, 'a delta was re-sent after the cut');

    await new Promise((r) => setTimeout(r, 4 * FLUSH_MS));
    const later = await watcher.scrape();
    assert.equal(ttftCount(later, 'killed-racing'), acked.ttft);
    assert.equal(ttftCount(later, 'killed-steady'), 3);
    assert.deepEqual(watcher.violations, []);
  });

  it('does not count twice across connections the job lost and re-established', async () => {
    const proxy = await HubProxy.start(parseHubAddress(process.env[HUB_ENV])!);
    proxies.push(proxy);
    const before = await watcher.scrape();
    const disconnectsBefore = sumOf(before, 'lk_agents_plugin_hub_disconnects_total');
    const job = await startJob('reconnecting', proxy.env());
    await scrapeUntil('the session is active', (s) => activeSessions(s) === 1);
    await job.turn(120);
    // the ack of the delta that carries the next turn is lost: the hub counted it, the job
    // re-sends it with the same seq
    proxy.inject('cut-before-ack', carriesSamples);
    await job.turn(220);
    await scrapeUntil('the cut', () => proxy.pendingFaults === 0 && proxy.connections >= 2);
    // the next delta never reaches the hub: the job re-sends it on a new connection
    proxy.inject('drop', carriesSamples);
    await job.turn(330);
    await scrapeUntil('the drop', () => proxy.pendingFaults === 0 && proxy.connections >= 3);
    await job.turn(560);
    job.send({ type: 'close', exit: 'framework' });
    assert.deepEqual(await job.exited, { code: 0, signal: null });
    mark('reconnecting: job exited');
    const s = await scrapeUntil('the job is gone', (x) => activeSessions(x) === 0);

    assertHistogram(s, 'reconnecting', job.recordedTtfts());
    assert.equal(job.recordedTtfts().length, 4);
    assert.equal(llmRequests(s, 'reconnecting'), 4);
    assert.equal(
      sumOf(s, 'lk_agents_plugin_hub_disconnects_total') - disconnectsBefore,
      2,
      'both lost connections are reported',
    );
    const ids = proxy.forwarded.map((d) => `${d.job}:${d.seq}`);
    assert.ok(ids.length > new Set(ids).size, 'a delta went to the hub twice');
    assert.deepEqual(watcher.violations, []);
    assert.ok(watcher.scrapes > 50, `${watcher.scrapes} scrapes checked`);
  });
});
