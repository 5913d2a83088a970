/**
 * The worker hub and its job-side client, in one process over a real unix socket: exactly-once
 * counting of deltas across re-sends and dropped connections, and a hub that survives garbage.
 * Cross-process behaviour (forked jobs, SIGKILL) is in test/integration/worker-hub.test.ts.
 */
import assert from 'node:assert/strict';
import { type Socket, createConnection } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { HubClient } from '../../src/prometheus/hub/hub-client.js';
import { HubServer } from '../../src/prometheus/hub/hub-server.js';
import { HUB_LIMITS } from '../../src/prometheus/hub/protocol.js';
import { renderExposition } from '../../src/prometheus/exposition.js';
import { DEFAULT_BUCKETS } from '../../src/prometheus/metric-families.js';
import {
  DEFAULT_MAX_SERIES,
  SeriesStore,
  type StoreSnapshot,
  seriesKey,
} from '../../src/prometheus/series-store.js';
import { HubProxy, carriesSamples } from '../support/hub-proxy.js';

const LLM = seriesKey({ component: 'llm', provider: 'p', model: 'm' });
const TTFT = seriesKey({ provider: 'p', model: 'm' });

function delta(requests: number, ttfts: number[] = []): StoreSnapshot {
  const store = new SeriesStore(DEFAULT_BUCKETS);
  if (requests > 0) store.inc('requests', LLM, requests);
  for (const v of ttfts) store.observe('ttft', TTFT, v);
  return store.snapshot();
}

function frame(job: string, seq: number, d: unknown, activeSessions = 1): string {
  return `${JSON.stringify({ v: 1, type: 'lkam:delta', job, pid: 1, seq, activeSessions, delta: d })}\n`;
}

const requestsOf = (hub: HubServer) =>
  [...hub.totals.counterSeries('requests')].reduce((sum, c) => sum + c.value, 0);
/** Frames and connections the hub refused, by any hub_* reason. */
const refusedBy = (hub: HubServer) =>
  [...hub.totals.counterSeries('dropped_samples')]
    .filter((c) => c.labels.reason!.startsWith('hub_'))
    .reduce((sum, c) => sum + c.value, 0);
const ttftCountOf = (hub: HubServer) =>
  [...hub.totals.histogramSeries('ttft')].reduce((sum, h) => sum + h.count, 0);

async function until(what: string, ok: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw peer of the hub that collects the sequence numbers acknowledged to it. */
async function rawPeer(hub: HubServer): Promise<{ socket: Socket; acks: number[] }> {
  const socket = createConnection(hub.address.path);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.setEncoding('utf8');
  const acks: number[] = [];
  let buffer = '';
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) acks.push((JSON.parse(line) as { seq: number }).seq);
  });
  socket.on('error', () => {});
  return { socket, acks };
}

/** What a job process's exporter looks like to its HubClient: a store swapped at each delivery. */
class RecordingSource {
  store = new SeriesStore(DEFAULT_BUCKETS);
  activeSessions = 1;
  recorded = 0;
  record(n = 1): void {
    for (let i = 0; i < n; i++) {
      this.store.inc('requests', LLM);
      this.store.observe('ttft', TTFT, 0.25);
      this.recorded += 1;
    }
  }
  takeDelta(): SeriesStore {
    const taken = this.store;
    this.store = new SeriesStore(DEFAULT_BUCKETS);
    return taken;
  }
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startHub(flushMs = 20): Promise<HubServer> {
  const hub = await HubServer.start(DEFAULT_BUCKETS, { flushMs, log: () => {} });
  cleanups.push(() => hub.close());
  return hub;
}

describe('HubServer', () => {
  it('adds a delta once when the same seq arrives twice, and acknowledges both', async () => {
    const hub = await startHub();
    const peer = await rawPeer(hub);
    cleanups.push(() => peer.socket.destroy());
    peer.socket.write(frame('job-a', 1, delta(3, [0.25, 0.4])));
    peer.socket.write(frame('job-a', 1, delta(3, [0.25, 0.4])));
    peer.socket.write(frame('job-a', 2, delta(1)));
    await until('three acks', () => peer.acks.length === 3);
    assert.deepEqual(peer.acks, [1, 1, 2]);
    assert.equal(requestsOf(hub), 4);
    assert.equal(ttftCountOf(hub), 2);
    // an older seq after a newer one is a late re-send, not new data
    peer.socket.write(frame('job-a', 1, delta(3)));
    await until('the late ack', () => peer.acks.length === 4);
    assert.equal(requestsOf(hub), 4);
  });

  it('counts a delta once when its connection drops before the ack and it is re-sent', async () => {
    const hub = await startHub();
    const first = await rawPeer(hub);
    first.socket.write(frame('job-a', 1, delta(5)));
    first.socket.destroy(); // gone before the ack could be read
    await until('the hub to count it', () => requestsOf(hub) === 5);
    await until('the job to be forgotten', () => hub.liveJobs === 0);

    const second = await rawPeer(hub);
    cleanups.push(() => second.socket.destroy());
    second.socket.write(frame('job-a', 1, delta(5))); // the client re-sends the unacked seq
    second.socket.write(frame('job-a', 2, delta(2)));
    await until('both acks', () => second.acks.length === 2);
    assert.deepEqual(second.acks, [1, 2]);
    assert.equal(requestsOf(hub), 7);
    // each job's sequence numbers are its own (and a connection is one job)
    const third = await rawPeer(hub);
    cleanups.push(() => third.socket.destroy());
    third.socket.write(frame('job-b', 1, delta(1)));
    await until('job-b counted', () => requestsOf(hub) === 8);
  });

  it("sums live jobs' active sessions and drops a job's share when its connection ends", async () => {
    const hub = await startHub();
    const a = await rawPeer(hub);
    const b = await rawPeer(hub);
    cleanups.push(() => b.socket.destroy());
    a.socket.write(frame('job-a', 1, delta(0), 2));
    b.socket.write(frame('job-b', 1, delta(0), 3));
    await until('both acks', () => a.acks.length === 1 && b.acks.length === 1);
    assert.equal(hub.activeSessions, 5);
    a.socket.destroy();
    await until('job-a forgotten', () => hub.activeSessions === 3);
    assert.equal(hub.peakSessions, 5);
  });

  it('skips garbage and invalid frames, and keeps reading the same connection', async () => {
    const hub = await startHub();
    const peer = await rawPeer(hub);
    cleanups.push(() => peer.socket.destroy());
    const other = { ...DEFAULT_BUCKETS, latency: [0.1, 1] };
    const invalid = [
      'not json at all',
      '{"v":1,"type":"lkam:delta"', // truncated
      '42',
      'null',
      '[]',
      '"lkam:delta"',
      JSON.stringify({ v: 2, type: 'lkam:delta', job: 'x', seq: 1, activeSessions: 1, delta: {} }),
      JSON.stringify({ v: 1, type: 'lkam:ack', seq: 1 }),
      JSON.stringify({ v: 1, type: 'lkam:delta', job: 7, seq: 1, activeSessions: 1 }),
      JSON.stringify({ v: 1, type: 'lkam:delta', job: 'x', seq: '1', activeSessions: 1 }),
      JSON.stringify({
        v: 1,
        type: 'lkam:delta',
        job: 'x',
        seq: 1,
        activeSessions: 1,
        delta: null,
      }),
      // another bucket layout: well-formed, so acknowledged (a re-send could not mend it, and
      // an unacknowledged delta would block the job's deliveries), but not added
      frame('job-a', 5, { ...delta(9), layout: other }).trimEnd(),
    ];
    for (const line of invalid) peer.socket.write(`${line}\n`);
    peer.socket.write(frame('job-a', 1, delta(2)));
    await until('the valid frame to be acknowledged', () => peer.acks.length === 2);
    assert.deepEqual(peer.acks, [5, 1], 'only well-formed deltas are acknowledged');
    assert.equal(requestsOf(hub), 2, 'nothing of the invalid frames was counted');
    // every one is counted, including the lines that are not JSON at all
    assert.equal(refusedBy(hub), invalid.length);
  });

  it('cuts a peer that sends an oversize frame, and serves the others', async () => {
    const hub = await startHub();
    const good = await rawPeer(hub);
    cleanups.push(() => good.socket.destroy());
    const bad = await rawPeer(hub);
    const closed = new Promise((resolve) => bad.socket.once('close', resolve));
    const chunk = 'x'.repeat(1024 * 1024);
    for (let i = 0; i <= HUB_LIMITS.maxFrameBytes / chunk.length; i++) bad.socket.write(chunk);
    await closed;
    assert.equal(refusedBy(hub), 1);
    good.socket.write(frame('job-a', 1, delta(1)));
    const late = await rawPeer(hub); // and still accepts connections
    cleanups.push(() => late.socket.destroy());
    late.socket.write(frame('job-b', 1, delta(1)));
    await until('both acks', () => good.acks.length === 1 && late.acks.length === 1);
    assert.equal(requestsOf(hub), 2);
  });

  it('survives a delta without a bucket layout', async () => {
    const hub = await startHub();
    const peer = await rawPeer(hub);
    cleanups.push(() => peer.socket.destroy());
    peer.socket.write(frame('job-a', 1, { ...delta(9), layout: undefined }));
    await new Promise((r) => setTimeout(r, 100));
    peer.socket.write(frame('job-a', 2, delta(1)));
    await until('the next frame is acknowledged', () => peer.acks.includes(2), 2_000);
    assert.equal(requestsOf(hub), 1);
  });

  it('refuses a delta whose values are not counts, rather than corrupting the totals', async () => {
    const hub = await startHub();
    const peer = await rawPeer(hub);
    cleanups.push(() => peer.socket.destroy());
    peer.socket.write(frame('job-a', 1, delta(1)));
    const corrupt = delta(1);
    corrupt.counters.requests![0]!.value = '5' as never;
    peer.socket.write(frame('job-a', 2, corrupt));
    const wrongCounts = delta(0, [0.25]);
    wrongCounts.histograms.ttft![0]!.counts = ['a' as never];
    peer.socket.write(frame('job-a', 3, wrongCounts));
    peer.socket.write(frame('job-a', 4, delta(1)));
    await until('four acks', () => peer.acks.length === 4);
    const text = renderExposition(
      { store: hub.totals, activeSessions: 0, peakSessions: 0, renderErrors: 0 },
      false,
    );
    assert.equal(requestsOf(hub), 2, `requests total is ${String(requestsOf(hub))}`);
    assert.doesNotMatch(text, /\+Inf$/m, 'no sample renders as +Inf');
  });

  it('resolves close() while a peer that never sent a whole frame is connected', async () => {
    const hub = await HubServer.start(DEFAULT_BUCKETS, { flushMs: 20 });
    const peer = await rawPeer(hub);
    peer.socket.write('{"v":1,'); // a job that connected and has not finished its first frame
    try {
      const outcome = await Promise.race([
        hub.close().then(() => 'closed'),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2_000)),
      ]);
      assert.equal(outcome, 'closed');
    } finally {
      peer.socket.destroy();
    }
  });

  it('bounds the series it keeps across job processes, as a single-process store does', async () => {
    const hub = await startHub();
    const peers = await Promise.all([rawPeer(hub), rawPeer(hub), rawPeer(hub)]);
    for (const p of peers) cleanups.push(() => p.socket.destroy());
    // three jobs, each well under the limit per delivery, with a per-room label (a mistake
    // the limit exists to survive)
    for (let job = 0; job < 3; job++) {
      const store = new SeriesStore(DEFAULT_BUCKETS);
      for (let i = 0; i < 0.6 * DEFAULT_MAX_SERIES; i++) {
        store.observe('ttft', seriesKey({ ...TTFT.labels, room: `room-${job}-${i}` }), 0.2);
      }
      peers[job]!.socket.write(frame(`job-${job}`, 1, store.snapshot()));
    }
    await until('three acks', () => peers.every((p) => p.acks.length === 1), 20_000);
    const kept = [...hub.totals.histogramSeries('ttft')].length;
    assert.ok(kept <= DEFAULT_MAX_SERIES, `the hub keeps ${kept} series`);
  });
});

describe('HubClient → HubServer', () => {
  it('delivers everything recorded, exactly once, in deltas', async () => {
    const hub = await startHub();
    const source = new RecordingSource();
    await connectClientTo(source, hub);
    for (let i = 0; i < 20; i++) {
      source.record(3);
      await new Promise((r) => setTimeout(r, 7));
    }
    await until('all delivered', () => requestsOf(hub) === 60);
    await new Promise((r) => setTimeout(r, 100)); // later flushes must add nothing
    assert.equal(requestsOf(hub), 60);
    assert.equal(ttftCountOf(hub), 60);
    assert.equal(hub.activeSessions, 1);
  });

  it('re-sends a delta whose ack was lost, and the hub counts it once', async () => {
    const hub = await startHub();
    const proxy = await HubProxy.start(hub.address);
    cleanups.push(() => proxy.close());
    const source = new RecordingSource();
    await connectClientTo(source, proxy);
    source.record(4);
    await until('first delivery', () => requestsOf(hub) === 4);

    proxy.inject('cut-before-ack', carriesSamples);
    source.record(6);
    await until('the cut', () => proxy.connections === 2); // the client reconnected
    source.record(1);
    await until('the re-send and the rest', () => requestsOf(hub) === 11);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(requestsOf(hub), 11, 'the re-sent delta was not added again');
    assert.equal(ttftCountOf(hub), 11);

    const seqs = proxy.forwarded.map((d) => `${d.job}:${d.seq}`);
    assert.ok(seqs.length > new Set(seqs).size, 'the same seq really went to the hub twice');
    const disconnects = [...hub.totals.counterSeries('hub_disconnects')];
    assert.deepEqual(
      disconnects.map((c) => c.value),
      [1],
      'the lost connection is reported',
    );
  });

  it('re-sends a delta the hub never received, and it is counted once', async () => {
    const hub = await startHub();
    const proxy = await HubProxy.start(hub.address);
    cleanups.push(() => proxy.close());
    const source = new RecordingSource();
    await connectClientTo(source, proxy);
    await until('connected', () => proxy.forwarded.length > 0);
    proxy.inject('drop', carriesSamples);
    source.record(5);
    await until('the drop', () => proxy.pendingFaults === 0 && proxy.connections === 2);
    await until('the re-send', () => requestsOf(hub) === 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(requestsOf(hub), 5);
  });
});

describe('HubClient: deltas the hub cannot take as they are', () => {
  const droppedOf = (hub: HubServer, reason: string) =>
    [...hub.totals.counterSeries('dropped_samples')]
      .filter((c) => c.labels.reason === reason)
      .reduce((sum, c) => sum + c.value, 0);

  it('splits a delta bigger than one frame and delivers all of it, once', async () => {
    const hub = await startHub();
    const source = new RecordingSource();
    const long = 'v'.repeat(120);
    for (let i = 0; i < 4_000; i++) {
      source.store.inc(
        'requests',
        seriesKey({ component: `llm`, provider: `${long}${i}`, model: long }),
      );
    }
    const bytes = Buffer.byteLength(JSON.stringify(source.store.snapshot()));
    assert.ok(bytes > HUB_LIMITS.maxFrameBytes, `the delta is ${bytes} bytes`);
    const client = new HubClient(hub.address, source);
    cleanups.push(() => client.close());
    await until('every series arrived', () => requestsOf(hub) === 4_000, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(requestsOf(hub), 4_000);
    assert.equal(refusedBy(hub), 0, 'the hub refused nothing');
  });

  it('cuts long label values, drops a series the hub would refuse, and counts it', async () => {
    const hub = await startHub();
    const source = new RecordingSource();
    source.store.inc('requests', seriesKey({ ...LLM.labels, model: 'm'.repeat(3 * 1024 * 1024) }));
    const tooMany = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`l${i}`, 'v']));
    source.store.inc('requests', seriesKey({ ...LLM.labels, ...tooMany }), 5);
    source.store.inc('active_sessions', seriesKey({}), 50); // a gauge: no frame may carry it
    source.record(2);
    const logs: string[] = [];
    const client = new HubClient(hub.address, source, (m) => logs.push(m));
    cleanups.push(() => client.close());
    await until('the rest arrived', () => requestsOf(hub) === 3);
    await until('the drops are reported', () => droppedOf(hub, 'hub_undeliverable') === 2);
    const models = [...hub.totals.counterSeries('requests')].map((c) => c.labels.model!.length);
    assert.ok(Math.max(...models) <= 128, `model lengths ${models.join(', ')}`);
    assert.equal(refusedBy(hub), 2, 'only the client-side drops: the hub refused no frame');
    assert.equal(logs.length, 1, 'logged once');
    assert.doesNotMatch(logs[0]!, /mmmm/, 'without the value');
  });

  it('keeps re-sending a delta whose connection is cut three times, until it arrives', async () => {
    const hub = await startHub();
    const proxy = await HubProxy.start(hub.address);
    cleanups.push(() => proxy.close());
    const source = new RecordingSource();
    const logs: string[] = [];
    await connectClientTo(source, proxy, (m) => logs.push(m));
    await until('connected', () => proxy.forwarded.length > 0);
    for (let i = 0; i < 3; i++) proxy.inject('drop', carriesSamples);
    source.record(5);
    await until('three cuts', () => proxy.pendingFaults === 0, 10_000);
    source.record(2);
    await until('all samples arrive', () => requestsOf(hub) === 7, 10_000);
    assert.equal(droppedOf(hub, 'hub_undeliverable'), 0, 'nothing was given up');
    assert.deepEqual(logs, []);
  });
});

async function connectClientTo(
  source: RecordingSource,
  hubOrProxy: { address: HubServer['address'] },
  log?: (message: string) => void,
) {
  const client = new HubClient(hubOrProxy.address, source, log);
  cleanups.push(() => client.close());
  return client;
}
