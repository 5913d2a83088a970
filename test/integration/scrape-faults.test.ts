/**
 * /metrics keeps answering under faults, on real processes: a worker main process
 * (test/fixtures/metrics-worker.ts) with a job process running a real AgentSession
 * (test/fixtures/job.ts) that delivers through the hub.
 *
 * - A job's event loop stalls for seconds: the worker answers every scrape at once, from the
 *   totals the job delivered before (the hub never asks a job anything at scrape time, unlike
 *   prom-client's cluster aggregator, which waits for its workers), and the job's samples flow
 *   again when it wakes.
 * - 200 scrapes by 8 kept-alive scrapers, while 48 HTTP connections sit half-open (a request
 *   line and no end of headers, or nothing at all; 56 connections, under the cap of 64) and as
 *   many half-open connections sit on the hub's socket (half a frame): every scrape answers 200
 *   with the whole exposition, and the half-open HTTP connections are closed after the request
 *   timeout (test/integration/metrics-server-limits.test.ts: what happens over the cap).
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { type Socket, connect, createConnection } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HUB_ENV } from '../../src/prometheus/hub/protocol.js';
import { parseExposition, sumOf } from '../support/exposition-parser.js';
import { JobProcess } from '../support/job-process.js';
import { MetricsWorker } from '../support/metrics-worker.js';

const FLUSH_MS = 200;
const COUNT = 'lk_agents_llm_ttft_seconds_count';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One GET with node's HTTP client (on a fresh connection unless an agent keeps one alive):
 * status, body, and ms to last byte. */
function scrape(
  url: string,
  agent: Agent | false = false,
): Promise<{ status: number; body: string; ms: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, body, ms: performance.now() - start }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('scrape timed out')));
    req.end();
  });
}

const turnsIn = (body: string) => sumOf(parseExposition(body), COUNT);

describe('/metrics under faults', () => {
  let worker: MetricsWorker;
  let job: JobProcess;
  before(async () => {
    worker = await MetricsWorker.start(0, FLUSH_MS);
    job = new JobProcess({ ...process.env, [HUB_ENV]: worker.hub });
    job.send({ type: 'start', labels: { agent_name: 'faults' }, ttftMenuMs: [10], prime: true });
    await job.report('started', 1, 60_000);
    for (let i = 0; i < 3; i++) await job.turn(10);
    const deadline = Date.now() + 10_000;
    while (turnsIn((await scrape(worker.url)).body) < 3 && Date.now() < deadline) await sleep(50);
  });
  after(async () => {
    job?.kill();
    await worker?.kill();
  });

  it("answers every scrape at once while a job's event loop is stalled for 3 s", async () => {
    const before = turnsIn((await scrape(worker.url)).body);
    assert.equal(before, 3);
    const stallMs = 3_000;
    job.send({ type: 'stall', ms: stallMs });
    const started = Date.now();
    const times: number[] = [];
    while (Date.now() - started < stallMs - 300) {
      const { status, body, ms } = await scrape(worker.url);
      assert.equal(status, 200);
      assert.equal(turnsIn(body), before, 'what the job delivered before its stall');
      times.push(ms);
      await sleep(100);
    }
    times.sort((a, b) => a - b);
    const p95 = times[Math.ceil(times.length * 0.95) - 1]!;
    console.log(
      `${times.length} scrapes during the stall: median ${times[times.length >> 1]!.toFixed(1)} ` +
        `ms, p95 ${p95.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`,
    );
    assert.ok(times.length >= 10, `${times.length} scrapes in the stall`);
    // A few ms on a quiet machine; a scrape that waited for the stalled job would take the
    // rest of the stall, seconds. Bounds with room for a loaded CI machine (2 shared cores).
    assert.ok(times[times.length >> 1]! < 100, `median ${times[times.length >> 1]} ms`);
    assert.ok(times.at(-1)! < stallMs / 2, `slowest ${times.at(-1)} ms while the job stalled`);
    // the job wakes, runs a turn (not before: it was stalled), and its samples arrive
    await job.turn(10);
    assert.ok(Date.now() - started >= stallMs, 'the turn waited for the stall');
    const deadline = Date.now() + 10_000;
    let after = before;
    while (after < before + 1 && Date.now() < deadline) {
      await sleep(50);
      after = turnsIn((await scrape(worker.url)).body);
    }
    assert.equal(after, before + 1);
  });

  it('answers 200 scrapes by 8 scrapers while 48 HTTP and 48 hub connections sit half-open', async () => {
    const url = new URL(worker.url);
    const open: Socket[] = [];
    const httpClosed: Array<Promise<void>> = [];
    const agents = Array.from({ length: 8 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    const opened = (socket: Socket) =>
      new Promise<void>((resolve, reject) => {
        open.push(socket);
        socket.once('connect', resolve).once('error', reject);
      });
    try {
      const hubPath = (JSON.parse(worker.hub) as { path: string }).path;
      for (let i = 0; i < 48; i++) {
        const http = connect(Number(url.port), url.hostname);
        http.on('error', () => {}).resume(); // read, so it sees the server close it
        httpClosed.push(new Promise((resolve) => http.once('close', () => resolve())));
        await opened(http);
        // half the connections sent a request line and some headers, never the end of them
        if (i % 2 === 0) http.write(`GET ${url.pathname} HTTP/1.1\r\nHost: x\r\n`);
        const hub = createConnection(hubPath);
        await opened(hub);
        if (i % 2 === 0) hub.write('{"v":1,"type":"lkam:delta","job":"half');
      }
      const reference = (await scrape(worker.url)).body;
      const expected = parseExposition(reference).length;
      const started = performance.now();
      const results = (
        await Promise.all(
          agents.map(async (agent) => {
            const mine = [];
            for (let i = 0; i < 25; i++) mine.push(await scrape(worker.url, agent));
            return mine;
          }),
        )
      ).flat();
      const wallMs = performance.now() - started;
      const times = results.map((r) => r.ms).sort((a, b) => a - b);
      console.log(
        `200 scrapes by 8 scrapers (${expected} samples each) in ${wallMs.toFixed(0)} ms: median ` +
          `${times[100]!.toFixed(1)} ms, slowest ${times[199]!.toFixed(1)} ms`,
      );
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.equal(parseExposition(r.body).length, expected);
        assert.equal(turnsIn(r.body), turnsIn(reference));
      }
      assert.ok(wallMs < 10_000, `200 scrapes took ${wallMs} ms`);
      // the job's own connection still delivers
      const before = turnsIn(reference);
      await job.turn(10);
      const deadline = Date.now() + 10_000;
      while (turnsIn((await scrape(worker.url)).body) < before + 1 && Date.now() < deadline) {
        await sleep(50);
      }
      assert.equal(turnsIn((await scrape(worker.url)).body), before + 1);
      // the server closes the half-open HTTP connections after its request timeout (5 s)
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        Promise.all(httpClosed).then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), 20_000))),
      ]);
      clearTimeout(timer);
      assert.equal(closed, true, 'the half-open HTTP connections were closed');
    } finally {
      for (const agent of agents) agent.destroy();
      for (const s of open) s.destroy();
    }
  });
});
