/**
 * The worker hub under a flood from another process: hundreds of connections that each hold an
 * unfinished 600 KiB frame or nothing at all, and dozens that send valid frames as fast as they can (new series in
 * each, fake jobs claiming the most sessions allowed) and never read an acknowledgement. The
 * hub's connections, buffered bytes and memory stay under fixed bounds throughout, it serves an
 * honest job afterwards, and promtool accepts what it exposes.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { after, describe, it } from 'node:test';
import { renderExposition } from '../../src/prometheus/exposition.js';
import { HubServer } from '../../src/prometheus/hub/hub-server.js';
import { HUB_LIMITS } from '../../src/prometheus/hub/protocol.js';
import { DEFAULT_BUCKETS } from '../../src/prometheus/metric-families.js';
import { DEFAULT_MAX_SERIES } from '../../src/prometheus/series-store.js';
import { ensurePrometheusTools } from '../support/prometheus-tools.js';

const HOLDERS = 200;
/** Connections that send nothing, after the holders: together they pass the limit of 256. */
const IDLERS = 300;
const HELD_BYTES = 600 * 1024;
const FLOODERS = 40;
const FRAMES_PER_FLOODER = 1_500;
const MIB = 1024 * 1024;

/** The attacker, a plain Node script in its own process. */
const ATTACKER = `
const net = require('net');
const [path, holders, heldBytes, flooders, frames, layout, idlers] = process.argv.slice(1);
let unsettled = Number(flooders) + Number(holders) + Number(idlers);
const settled = () => { if (--unsettled === 0) console.log('done'); };
const open = () => {
  const s = net.createConnection(path);
  let once = false;
  s.settle = () => { if (!once) { once = true; settled(); } };
  s.on('error', () => {});
  s.on('close', () => s.settle());
  s.pause(); // never reads what the hub answers
  return s;
};
const pad = '{"v":1,"pad":"' + 'x'.repeat(Number(heldBytes));
for (let f = 0; f < Number(flooders); f++) {
  const s = open();
  s.on('connect', async () => {
    for (let seq = 1; seq <= Number(frames) && !s.destroyed; seq++) {
      const counters = { requests: [{ labels: { component: 'llm', provider: 'p' + f + '-' + seq, model: 'm' }, value: 1 }] };
      const delta = { v: 1, layout: JSON.parse(layout), histograms: {}, counters };
      const line = JSON.stringify({ v: 1, type: 'lkam:delta', job: 'flood-' + f, pid: 1, seq, activeSessions: ${HUB_LIMITS.maxSessionsPerJob}, delta }) + '\\n';
      if (!s.write(line)) await new Promise((r) => { s.once('drain', r); s.once('close', r); });
    }
    s.settle();
  });
}
// the holders come once the flooders are in, so both kinds reach the hub
setTimeout(() => {
  for (let i = 0; i < Number(holders); i++) {
    const s = open();
    s.on('connect', () => s.write(pad, () => s.settle()));
  }
  setTimeout(() => {
    for (let i = 0; i < Number(idlers); i++) {
      const s = open();
      s.on('connect', () => setTimeout(() => s.settle(), 100));
    }
  }, 200);
}, 200);
setInterval(() => {}, 1000);
`;

let attacker: ChildProcess | undefined;
let hub: HubServer | undefined;
after(async () => {
  attacker?.kill('SIGKILL');
  await hub?.close();
});

/** Heap and buffers of this process (the hub's), after a full collection. */
function memory(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('the worker hub under a flood', () => {
  it('keeps connections, buffered bytes and memory bounded, and serves an honest job after', async () => {
    assert.ok((globalThis as { gc?: unknown }).gc, 'run with --expose-gc (scripts/run-tests.mjs)');
    const logged: string[] = [];
    hub = await HubServer.start(DEFAULT_BUCKETS, { flushMs: 50, log: (m) => logged.push(m) });
    const baseline = memory();

    attacker = spawn(
      process.execPath,
      [
        '-e',
        ATTACKER,
        hub.address.path,
        String(HOLDERS),
        String(HELD_BYTES),
        String(FLOODERS),
        String(FRAMES_PER_FLOODER),
        JSON.stringify(DEFAULT_BUCKETS),
        String(IDLERS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    attacker.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));

    let peakConnections = 0;
    let peakBuffered = 0;
    let peakMemory = 0;
    let peakLive = 0;
    let peakSessions = 0;
    let samples = 0;
    const deadline = Date.now() + 30_000;
    const started = Date.now();
    while (!out.includes('done') && Date.now() < deadline) {
      peakConnections = Math.max(peakConnections, hub.connections);
      peakBuffered = Math.max(peakBuffered, hub.bufferedBytes);
      peakSessions = Math.max(peakSessions, hub.activeSessions);
      const m = process.memoryUsage();
      peakMemory = Math.max(peakMemory, m.heapUsed + m.arrayBuffers);
      // every tenth sample, what is live (garbage collected first)
      if (++samples % 10 === 0) peakLive = Math.max(peakLive, memory());
      await new Promise((r) => setTimeout(r, 20));
    }
    const attackMs = Date.now() - started;
    assert.ok(out.includes('done'), 'the attack ran to its end');
    // what the attacker wrote last is read by now
    await new Promise((r) => setTimeout(r, 500));
    peakConnections = Math.max(peakConnections, hub.connections);
    peakBuffered = Math.max(peakBuffered, hub.bufferedBytes);
    const duringAttack = memory();
    attacker.kill('SIGKILL');
    const settle = Date.now() + 10_000;
    while (hub.connections > 0 && Date.now() < settle) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    memory();
    const afterAttack = memory();

    const refused = Object.fromEntries(
      [...hub.totals.counterSeries('dropped_samples')].map((c) => [c.labels.reason, c.value]),
    );
    const series = [...hub.totals.counterSeries('requests')].length;
    const report = {
      attackMs,
      baselineMiB: +(baseline / MIB).toFixed(1),
      peakMiB: +(peakMemory / MIB).toFixed(1),
      peakLiveMiB: +(peakLive / MIB).toFixed(1),
      duringAttackAfterGcMiB: +(duringAttack / MIB).toFixed(1),
      afterMiB: +(afterAttack / MIB).toFixed(1),
      peakConnections,
      peakBufferedMiB: +(peakBuffered / MIB).toFixed(1),
      peakSessions,
      series,
      refused,
    };
    console.log(`hub flood: ${JSON.stringify(report)}`);

    assert.ok(peakConnections <= 256, `${peakConnections} connections at once`);
    assert.ok(peakBuffered <= 32 * MIB, `${peakBuffered} bytes of unfinished frames`);
    // 200 × 600 KiB = 117 MiB was sent to be held: the hub held at most its 32 MiB budget; what
    // is live never grew by much more than that, and garbage not yet collected stays bounded too
    assert.ok(peakLive - baseline < 96 * MIB, `live grew by ${(peakLive - baseline) / MIB} MiB`);
    assert.ok(peakMemory - baseline < 256 * MIB, `grew by ${(peakMemory - baseline) / MIB} MiB`);
    assert.ok(afterAttack - baseline < 32 * MIB, `kept ${(afterAttack - baseline) / MIB} MiB`);
    assert.ok(series <= DEFAULT_MAX_SERIES, `${series} series`);
    assert.ok(peakSessions <= 256 * HUB_LIMITS.maxSessionsPerJob);
    assert.ok((refused.hub_connection_limit ?? 0) > 0, 'connections were refused and counted');
    assert.ok((refused.series_limit ?? 0) > 0, 'series past the cap were counted');
    assert.equal(hub.connections, 0);
    assert.equal(hub.bufferedBytes, 0);
    assert.equal(hub.activeSessions, 0, 'the attackers’ sessions went with their connections');

    // an honest job is served afterwards
    const socket = createConnection(hub.address.path);
    const ack = new Promise<string>((resolve) =>
      socket.setEncoding('utf8').once('data', (d: string) => resolve(d)),
    );
    await new Promise((r) => socket.once('connect', r));
    const delta = { v: 1, layout: DEFAULT_BUCKETS, histograms: {}, counters: {} };
    socket.write(
      `${JSON.stringify({ v: 1, type: 'lkam:delta', job: 'honest', pid: 2, seq: 1, activeSessions: 1, delta })}\n`,
    );
    assert.match(await ack, /"seq":1/);
    socket.destroy();

    const text = await renderExposition(
      {
        store: hub!.totals,
        activeSessions: hub!.activeSessions,
        peakSessions: hub!.peakSessions,
        renderErrors: 0,
      },
      false,
    );
    const lint = spawnSync(ensurePrometheusTools().promtool, ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
    });
    assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
    assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '');
    assert.ok(logged.length <= 9, `${logged.length} log lines: one per reason at most`);
  });
});
