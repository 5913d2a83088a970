/**
 * A hub with a stable name (what a fixed /metrics port gives it): one socket address across
 * hubs, totals saved before they are acknowledged and continued by the next hub, a saved file
 * that does not pass the frame schema ignored, and a stable directory that is taken or not
 * private never used. Real hubs on real unix sockets, in this process.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Socket, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { HubServer } from '../../src/prometheus/hub/hub-server.js';
import { stableDirName } from '../../src/prometheus/hub/socket-dir.js';
import { DEFAULT_BUCKETS } from '../../src/prometheus/metric-families.js';
import { SeriesStore, seriesKey } from '../../src/prometheus/series-store.js';

const LLM = { component: 'llm', provider: 'acme', model: 'acme-1' };
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const logged: string[] = [];
async function startHub(stableName: string): Promise<HubServer> {
  const hub = await HubServer.start(DEFAULT_BUCKETS, {
    flushMs: 20,
    log: (m) => logged.push(m),
    stableName,
  });
  cleanups.push(() => hub.close());
  return hub;
}

/** A fresh stable name, its directory removed after the test. */
function stableName(): string {
  const name = `test-${randomBytes(4).toString('hex')}`;
  cleanups.push(() =>
    rmSync(join(tmpdir(), stableDirName(name)), { recursive: true, force: true }),
  );
  return name;
}

function frame(job: string, seq: number, requests: number): string {
  const store = new SeriesStore(DEFAULT_BUCKETS);
  store.inc('requests', seriesKey(LLM), requests);
  const message = { v: 1, type: 'lkam:delta', job, pid: 4242, seq, activeSessions: 1 };
  return `${JSON.stringify({ ...message, delta: store.snapshot() })}\n`;
}

/** Connects, sends `frames`, and resolves with the acknowledged sequence numbers. */
async function send(hub: HubServer, frames: string[]): Promise<number[]> {
  const socket: Socket = createConnection(hub.address.path);
  cleanups.push(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  const acks: number[] = [];
  let buffer = '';
  socket.setEncoding('utf8');
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) acks.push((JSON.parse(line) as { seq: number }).seq);
      if (acks.length === frames.length) resolve();
    });
  });
  for (const f of frames) socket.write(f);
  await done;
  socket.destroy();
  return acks;
}

const requestsOf = (hub: HubServer) =>
  [...hub.totals.counterSeries('requests')].reduce((sum, c) => sum + c.value, 0);

describe('a hub with a stable name', () => {
  it('keeps one address across hubs, continues the totals, and adds a re-sent delta once', async () => {
    const name = stableName();
    const first = await startHub(name);
    assert.equal(dirname(first.address.path), join(tmpdir(), stableDirName(name)));
    assert.deepEqual(await send(first, [frame('job-a', 1, 2)]), [1]);
    // acknowledged means saved: what the job was told arrived is what the next hub starts from
    assert.equal(requestsOf(first), 2);
    await first.close();

    const second = await startHub(name);
    assert.equal(second.address.path, first.address.path);
    assert.equal(requestsOf(second), 2, 'continued from the saved totals');
    // the job re-sends seq 1 (its ack was lost with the old hub), then goes on
    assert.deepEqual(await send(second, [frame('job-a', 1, 2), frame('job-a', 2, 3)]), [1, 2]);
    assert.equal(requestsOf(second), 5);
  });

  it('ignores saved totals that do not pass the frame schema, and says so once', async () => {
    const name = stableName();
    const dir = join(tmpdir(), stableDirName(name));
    mkdirSync(dir, { mode: 0o700 });
    const forged = new SeriesStore(DEFAULT_BUCKETS).snapshot();
    forged.counters.requests = [{ labels: LLM, value: -50 }];
    writeFileSync(
      join(dir, 'totals.json'),
      JSON.stringify({ v: 1, type: 'lkam:hub-state', totals: forged, seqs: [] }),
    );
    logged.length = 0;
    const hub = await startHub(name);
    assert.equal(hub.address.path, join(dir, 'hub.sock'));
    assert.equal(requestsOf(hub), 0);
    assert.equal(logged.filter((m) => m.includes('ignored the saved totals')).length, 1);
    assert.deepEqual(await send(hub, [frame('job-b', 1, 4)]), [1]);
    assert.equal(requestsOf(hub), 4);
  });

  it('uses a directory of its own when the stable one is taken by a live hub or not private', async () => {
    const name = stableName();
    const live = await startHub(name);
    const second = await startHub(name);
    assert.notEqual(second.address.path, live.address.path);
    assert.match(second.address.path, new RegExp(`/lkam-hub-${process.pid}-\\w{6}/hub\\.sock$`));
    await live.close(); // it saved nothing: its directory went with it

    const dir = join(tmpdir(), stableDirName(name));
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const third = await startHub(name);
    assert.match(third.address.path, new RegExp(`/lkam-hub-${process.pid}-\\w{6}/hub\\.sock$`));
  });
});
