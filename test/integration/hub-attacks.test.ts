/**
 * The worker hub's socket, attacked the way a buggy or hostile local peer would: frames Prometheus
 * cannot render, values that break counter and histogram semantics, fake job ids, a flood of
 * series, connections and unread acknowledgements. Each attack is refused and counted
 * (lk_agents_plugin_dropped_samples_total{reason="hub_…"}), valid peers keep being served, and
 * `promtool check metrics` accepts the exposition after every one of them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { type Socket, createConnection } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { renderExposition } from '../../src/prometheus/exposition.js';
import { HubServer, type HubServerOptions } from '../../src/prometheus/hub/hub-server.js';
import { DEFAULT_BUCKETS } from '../../src/prometheus/metric-families.js';
import {
  DEFAULT_MAX_SERIES,
  SeriesStore,
  type StoreSnapshot,
  seriesKey,
} from '../../src/prometheus/series-store.js';
import { ensurePrometheusTools } from '../support/prometheus-tools.js';

const LLM = { component: 'llm', provider: 'p', model: 'm' };
const TTFT = { provider: 'p', model: 'm' };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const logged: string[] = [];
async function startHub(options: HubServerOptions = {}): Promise<HubServer> {
  const hub = await HubServer.start(DEFAULT_BUCKETS, {
    flushMs: 20,
    log: (m: string) => logged.push(m),
    ...options,
  });
  cleanups.push(() => hub.close());
  return hub;
}

function validDelta(requests = 1): StoreSnapshot {
  const store = new SeriesStore(DEFAULT_BUCKETS);
  store.inc('requests', seriesKey(LLM), requests);
  store.observe('ttft', seriesKey(TTFT), 0.25);
  return store.snapshot();
}

/** A frame as JSON text; `delta` may be raw JSON text (e.g. holding 1e999, which parses to Infinity). */
function frame(job: string, seq: number, delta: unknown, activeSessions = 1): string {
  const d = typeof delta === 'string' ? delta : JSON.stringify(delta);
  const head = JSON.stringify({ v: 1, type: 'lkam:delta', job, pid: 4242, seq, activeSessions });
  return `${head.slice(0, -1)},"delta":${d}}\n`;
}

interface Peer {
  socket: Socket;
  acks: number[];
  closed: Promise<void>;
}

async function peer(hub: HubServer, read = true): Promise<Peer> {
  const socket = createConnection(hub.address.path);
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((resolve) => socket.once('connect', resolve));
  const acks: number[] = [];
  if (read) {
    socket.setEncoding('utf8');
    let buffer = '';
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) acks.push((JSON.parse(line) as { seq: number }).seq);
    });
  } else {
    socket.pause();
  }
  cleanups.push(() => socket.destroy());
  return { socket, acks, closed };
}

async function until(what: string, ok: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const requestsOf = (hub: HubServer) =>
  [...hub.totals.counterSeries('requests')].reduce((sum, c) => sum + c.value, 0);

/** The hub's health counter for one refusal reason. */
const refused = (hub: HubServer, reason: string) =>
  [...hub.totals.counterSeries('dropped_samples')]
    .filter((c) => c.labels.reason === reason)
    .reduce((sum, c) => sum + c.value, 0);

async function exposition(hub: HubServer): Promise<string> {
  return renderExposition(
    {
      store: hub.totals,
      activeSessions: hub.activeSessions,
      peakSessions: hub.peakSessions,
      renderErrors: 0,
    },
    false,
  );
}

/** promtool accepts what the hub now exposes, with no lint findings. */
async function assertPromtoolClean(hub: HubServer): Promise<string> {
  const text = await exposition(hub);
  const run = spawnSync(ensurePrometheusTools().promtool, ['check', 'metrics'], {
    input: text,
    encoding: 'utf8',
  });
  const findings = `${run.stdout}${run.stderr}`.trim();
  assert.equal(run.status, 0, `promtool: ${findings}`);
  assert.equal(findings, '', 'no lint findings');
  return text;
}

/**
 * Sends the attack frames as one job (each is acknowledged: re-sending would not mend it), then a
 * valid frame from another job, and waits until both are answered.
 */
async function attack(hub: HubServer, lines: string[]): Promise<Peer> {
  const attacker = await peer(hub);
  for (const line of lines) attacker.socket.write(line);
  await until('every attack frame is answered', () => attacker.acks.length === lines.length);
  const p = await peer(hub);
  p.socket.write(frame('job-ok', 1, validDelta(1)));
  await until('the valid frame is acknowledged', () => p.acks.includes(1));
  return p;
}

describe('the hub refuses frames Prometheus could not render', () => {
  it('refuses label names that are not Prometheus label names, and counts each', async () => {
    const hub = await startHub();
    const bad = ['bad-name', '__name__', '0abc', '', 'with space', 'é', 'constructor'];
    const lines = bad.map((name, i) => {
      const store = new SeriesStore(DEFAULT_BUCKETS);
      store.inc('requests', seriesKey({ ...LLM, [name]: 'x' }));
      return frame('attacker', i + 1, store.snapshot());
    });
    await attack(hub, lines);
    assert.equal(requestsOf(hub), 1, 'only the valid frame was added');
    assert.equal(refused(hub, 'hub_invalid_frame'), bad.length);
    const text = await assertPromtoolClean(hub);
    assert.match(text, /^lk_agents_plugin_dropped_samples_total\{reason="hub_invalid_frame"\} 7$/m);
    assert.equal(
      logged.filter((m) => m.includes('hub_invalid_frame')).length,
      1,
      'logged once, however many',
    );
    for (const name of bad.filter(Boolean)) {
      assert.ok(!logged.some((m) => m.includes(name)), `the log does not echo "${name}"`);
    }
  });

  it('cuts label values to 128 characters', async () => {
    const hub = await startHub();
    const store = new SeriesStore(DEFAULT_BUCKETS);
    store.inc('requests', seriesKey({ ...LLM, model: 'm'.repeat(100_000) }));
    await attack(hub, [frame('attacker', 1, store.snapshot())]);
    const models = [...hub.totals.counterSeries('requests')].map((c) => c.labels.model!);
    assert.equal(models.length, 2);
    assert.ok(
      models.every((m) => [...m].length <= 128),
      `model label lengths ${models.map((m) => m.length).join(', ')}`,
    );
    await assertPromtoolClean(hub);
  });

  it('refuses unknown families, and series without exactly their declared labels', async () => {
    const hub = await startHub();
    const snap = (counters: unknown, histograms: unknown = {}) =>
      JSON.stringify({ v: 1, layout: DEFAULT_BUCKETS, histograms, counters });
    const h = validDelta().histograms.ttft![0]!;
    const lines = [
      snap({ not_a_family: [{ labels: {}, value: 1 }] }),
      snap({ active_sessions: [{ labels: {}, value: 50_000 }] }), // a gauge is not a delta
      snap({ requests: [{ labels: { component: 'llm', provider: 'p' }, value: 1 }] }), // no model
      snap({ requests: [{ labels: { ...LLM, le: '1' }, value: 1 }] }), // reserved by Prometheus
      snap({ requests: [{ labels: { ...LLM, function: 'f' }, value: 1 }] }), // another family's
      snap({ requests: [{ labels: [], value: 1 }] }),
      snap({ requests: [{ labels: { ...LLM, n: 7 }, value: 1 }] }),
      snap({}, { ttft: [{ ...h, labels: {} }] }),
      snap({ ttft: [h] }), // a histogram under counters
      snap({}, { requests: [h] }), // a counter under histograms
      snap({ requests: [{ labels: Object.fromEntries(range(40).map((i) => [`l${i}`, 'v'])) }] }),
    ].map((d, i) => frame('attacker', i + 1, d));
    await attack(hub, lines);
    assert.equal(requestsOf(hub), 1);
    assert.equal(refused(hub, 'hub_invalid_frame'), lines.length);
    await assertPromtoolClean(hub);
  });

  it('refuses negative, infinite and inconsistent counter and histogram values', async () => {
    const hub = await startHub();
    const h = validDelta().histograms.ttft![0]!; // one observation in the 0.3 bucket
    const withTtft = (series: object) =>
      JSON.stringify({
        v: 1,
        layout: DEFAULT_BUCKETS,
        histograms: { ttft: [series] },
        counters: {},
      });
    const withRequests = (value: string) =>
      `{"v":1,"layout":${JSON.stringify(DEFAULT_BUCKETS)},"histograms":{},"counters":{"requests":[{"labels":${JSON.stringify(LLM)},"value":${value}}]}}`;
    const lines = [
      withRequests('-1'),
      withRequests('1e999'), // JSON.parse makes it Infinity
      withRequests('-1e999'),
      withRequests('"5"'),
      withRequests('null'),
      withTtft({ ...h, count: 7 }), // _bucket{le="+Inf"} 1 beside _count 7
      withTtft({ ...h, counts: h.counts.map(() => 0), count: 7 }),
      withTtft({ ...h, counts: h.counts.slice(1) }), // bucket array of another layout
      withTtft({ ...h, counts: [...h.counts, 0] }),
      withTtft({ ...h, counts: h.counts.map((c, i) => (i === 0 ? -1 : i === 4 ? c + 1 : c)) }),
      withTtft({ ...h, counts: h.counts.map((c, i) => (i === 4 ? 0.5 : c)), count: 0.5 }),
      withTtft({ ...h, sum: null }),
      withTtft({ ...h, sum: 'NaN' }),
      withTtft({ ...h, exemplars: [{ traceId: 'x'.repeat(10_000), value: 1, at: 1 }] }),
    ].map((d, i) => frame('attacker', i + 1, d));
    lines.push(
      frame('attacker', lines.length + 1, withTtft(h).replace('"sum":0.25', '"sum":1e999')),
    );
    await attack(hub, lines);
    assert.equal(requestsOf(hub), 1);
    assert.equal(refused(hub, 'hub_invalid_frame'), lines.length);
    const text = await assertPromtoolClean(hub);
    assert.doesNotMatch(text, /(Inf|NaN|-\d)$/m, 'no sample renders as infinite, NaN or negative');
    assert.match(text, /^lk_agents_llm_ttft_seconds_count\{provider="p",model="m"\} 1$/m);
  });
});

describe('the hub bounds what a peer can claim', () => {
  it('takes one job per connection, with a bounded number of sessions', async () => {
    const hub = await startHub();
    const p = await peer(hub);
    // 500 fake job ids on one connection, each claiming 100 sessions: the second one ends it
    for (let i = 0; i < 500; i++) p.socket.write(frame(`fake-${i}`, 1, validDelta(0), 100));
    await Promise.race([
      p.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('never cut')), 5_000)),
    ]);
    assert.equal(refused(hub, 'hub_extra_job'), 1);
    assert.ok(hub.peakSessions <= 100, `peak sessions ${hub.peakSessions}`);
    assert.equal(hub.liveJobs, 0);

    const honest = await peer(hub);
    honest.socket.write(frame('honest', 1, validDelta(0), 100));
    await until('the honest ack', () => honest.acks.includes(1));
    const q = await peer(hub);
    q.socket.write(frame('greedy', 1, validDelta(0), 50_000));
    q.socket.write(frame('fractional', 1, validDelta(0), 1.5));
    q.socket.write(frame('negative', 1, validDelta(0), -3));
    q.socket.write(frame('x'.repeat(10_000), 1, validDelta(0), 1));
    q.socket.write(frame('greedy', 2, validDelta(1), 7));
    await until('the valid frame', () => q.acks.includes(2));
    assert.equal(hub.activeSessions, 100 + 7);
    const text = await assertPromtoolClean(hub);
    assert.match(text, /^lk_agents_active_sessions 107$/m);
  });

  it('keeps every family, dropped_* included, under the series cap', async () => {
    const hub = await startHub();
    const p = await peer(hub);
    const n = DEFAULT_MAX_SERIES + 1_000;
    for (let part = 0; part < 4; part++) {
      const counters = {
        dropped_samples: range(n / 4).map((i) => ({
          labels: { reason: `r-${part}-${i}` },
          value: 1,
        })),
        dropped_messages: range(n / 4).map((i) => ({
          labels: { reason: `m-${part}-${i}` },
          value: 1,
        })),
      };
      p.socket.write(
        frame('flood', part + 1, { v: 1, layout: DEFAULT_BUCKETS, histograms: {}, counters }),
      );
    }
    await until('four acks', () => p.acks.length === 4, 20_000);
    let series = 0;
    for (const family of ['dropped_samples', 'dropped_messages'] as const) {
      series += [...hub.totals.counterSeries(family)].length;
    }
    assert.ok(series <= DEFAULT_MAX_SERIES + 20, `${series} series kept`);
    assert.ok(refused(hub, 'series_limit') >= 2 * n - DEFAULT_MAX_SERIES);
    await assertPromtoolClean(hub);
  });
});

describe('the hub bounds its memory per connection and in total', () => {
  it('cuts a peer that never reads its acknowledgements', async () => {
    const hub = await startHub();
    const p = await peer(hub, false);
    const tiny = frame('deaf', 1, { v: 1, layout: DEFAULT_BUCKETS, histograms: {}, counters: {} });
    // every frame is valid and acknowledged; the peer reads none of the acks
    const batch = range(1_000)
      .map((i) => tiny.replace('"seq":1', `"seq":${i + 1}`))
      .join('');
    for (let i = 0; i < 100 && !p.socket.destroyed; i++) {
      if (!p.socket.write(batch)) await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.race([
      p.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('never cut')), 10_000)),
    ]);
    assert.equal(refused(hub, 'hub_unread_acks'), 1);
    await assertPromtoolClean(hub);
  });

  it('closes connections that stay idle', async () => {
    const hub = await startHub({ idleTimeoutMs: 200 });
    const quiet = await peer(hub);
    const started = Date.now();
    await Promise.race([
      quiet.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('never closed')), 5_000)),
    ]);
    assert.ok(Date.now() - started >= 150, 'not before the timeout');
    assert.equal(refused(hub, 'hub_idle_connection'), 1);
    await assertPromtoolClean(hub);
  });

  it('keeps to its connection limit by closing the oldest peers without a delta, and serves the newest', async () => {
    const hub = await startHub({ maxConnections: 8 });
    const peers: Peer[] = [];
    for (let i = 0; i < 20; i++) peers.push(await peer(hub)); // one after the other: oldest first
    await until(
      'the extra connections are closed',
      () => refused(hub, 'hub_connection_limit') === 12,
    );
    await Promise.all(peers.slice(0, 12).map((p) => p.closed));
    assert.equal(hub.connections, 8);
    const last = peers[19]!;
    last.socket.write(frame('job-a', 1, validDelta(2)));
    await until('the newest peer is served', () => last.acks.includes(1));
    await assertPromtoolClean(hub);
  });

  it('cuts a peer whose unfinished frame passes 1 MiB', async () => {
    const hub = await startHub();
    const p = await peer(hub);
    p.socket.write('{"v":1,"pad":"');
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 24 && !p.socket.destroyed; i++) p.socket.write(chunk); // 1.5 MiB
    await Promise.race([
      p.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('never cut')), 5_000)),
    ]);
    assert.equal(refused(hub, 'hub_oversize_frame'), 1);
    await assertPromtoolClean(hub);
  });

  it('cuts peers once unfinished frames across connections pass the total budget', async () => {
    const hub = await startHub({ maxBufferedBytes: 4 * 1024 * 1024 });
    const peers = await Promise.all(range(8).map(() => peer(hub)));
    const part = `{"v":1,"pad":"${'x'.repeat(900 * 1024)}`;
    for (const p of peers) p.socket.write(part);
    await until('some are cut', () => refused(hub, 'hub_buffer_limit') >= 3);
    assert.ok(hub.bufferedBytes <= 4 * 1024 * 1024, `${hub.bufferedBytes} bytes buffered`);
    const late = await peer(hub);
    late.socket.write(frame('job-late', 1, validDelta(1)));
    await until('a small frame is still served', () => late.acks.includes(1));
    await assertPromtoolClean(hub);
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
