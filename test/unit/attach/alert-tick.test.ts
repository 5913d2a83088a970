/**
 * The alert tick of `attachMetrics` on mocked timers (`node:test`'s mock.timers: setInterval and
 * Date): an alert raised by a turn follows the rolling window as it slides, on the session's 1 s
 * tick alone, and clears when its samples have left it. The session is a stand-in event emitter
 * that replays the events a real AgentSession emitted (test/fixtures/sessions/text-plain.json,
 * recorded by scripts/record-fixtures.ts) at their recorded times; the same alert on a real
 * session in real time is in test/integration/text-session.test.ts.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { voice } from '@livekit/agents';
import { attachMetrics } from '../../../src/attach.js';
import { createMetricsRuntime } from '../../../src/runtime.js';
import type { AlertEvent, MetricSample } from '../../../src/types.js';

type RecordedEvent = Record<string, unknown> & { type: string; createdAt: number };

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/sessions/text-plain.json', import.meta.url), 'utf8'),
) as { events: RecordedEvent[] };
/** Everything but the session's end: the session stays open, so only the tick evaluates. */
const EVENTS = fixture.events.filter((e) => e.type !== 'close');
const START = EVENTS[0]!.createdAt;
const WINDOW_MS = 10_000;
const TICK_MS = 1_000;

/** A stand-in AgentSession: emits what the recorded one emitted, with speech handles whose item
 * and done callbacks fire when the recording says they did. */
class ReplayedSession extends EventEmitter {
  private readonly handles = new Map<
    string,
    { items: Array<(item: unknown) => void>; done: Array<(h: unknown) => void> }
  >();

  replay(ev: RecordedEvent): void {
    if (ev.type === 'speech_item_added' || ev.type === 'speech_done') {
      const handle = this.handles.get(ev.speechId as string)!;
      if (ev.type === 'speech_item_added') for (const cb of handle.items) cb(ev.item);
      else for (const cb of handle.done) cb({ id: ev.speechId, interrupted: ev.interrupted });
      return;
    }
    if (ev.type === 'speech_created') {
      const id = (ev.speechHandle as { id: string }).id;
      const callbacks = { items: [], done: [] } as { items: never[]; done: never[] };
      this.handles.set(id, callbacks);
      const speechHandle = {
        id,
        _addItemAddedCallback: (cb: never) => callbacks.items.push(cb),
        addDoneCallback: (cb: never) => callbacks.done.push(cb),
      };
      this.emit(ev.type, { ...ev, speechHandle });
      return;
    }
    this.emit(ev.type, ev);
  }
}

/** Moves the mocked clock to `at`, a millisecond at a time (Node 20's `tick(ms)` moves Date to
 * the end of the tick before it runs the timers that fell due in it). */
function tickTo(at: number): void {
  while (Date.now() < at) mock.timers.tick(1);
}

describe('the alert tick of attachMetrics, on mocked timers', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: START }));
  afterEach(() => mock.timers.reset());

  it('re-evaluates a raised alert every second as the window slides, and clears it once empty', async () => {
    const session = new ReplayedSession();
    const metrics = attachMetrics(session as unknown as voice.AgentSession, {
      runtime: createMetricsRuntime(),
      alerts: { ttft: { warning: 150, critical: 1_000 } },
      alertWindowMs: WINDOW_MS,
    });
    const alerts: AlertEvent[] = [];
    const ttfts: MetricSample[] = [];
    metrics.on('alert', (a) => alerts.push(a));
    metrics.on('sample', (s) => s.stat === 'ttft' && ttfts.push(s));
    for (const ev of EVENTS) {
      tickTo(ev.createdAt);
      session.replay(ev);
    }
    // The recorded turns' TTFTs were injected as 100, 200 and 300 ms: the second turn's p90
    // (191) crosses the warning threshold.
    assert.deepEqual(
      ttfts.map((s) => s.value),
      [101, 201, 307],
    );
    assert.deepEqual(
      alerts.map((a) => [a.state, a.level, a.metric]),
      [['raised', 'warning', 'ttft']],
    );
    // (value: the rolling p90 as last evaluated; raisedValue: when it was raised)
    const active = () => metrics.summary().alerts.map((a) => [a.raisedValue, a.value]);
    assert.deepEqual(active(), [[191, 285.8]]);

    // From here on no event arrives: only the tick (every second since attach) evaluates. Each
    // sample leaves the window WINDOW_MS after it was taken; the first tick at or after that
    // shows the window without it.
    const firstTickAfter = (at: number) => START + Math.ceil((at - START) / TICK_MS) * TICK_MS;
    const [first, second, third] = ttfts.map((s) => firstTickAfter(s.at + WINDOW_MS));
    tickTo(first! - 1);
    assert.deepEqual(active(), [[191, 285.8]], 'not before the tick');
    tickTo(first!);
    assert.deepEqual(active(), [[191, 296.4]], 'the 101 ms sample has left the window');
    tickTo(second!);
    assert.deepEqual(active(), [[191, 307]]);
    tickTo(third! - 1);
    assert.equal(alerts.length, 1, 'still raised');
    tickTo(third!);
    assert.deepEqual(
      alerts.map((a) => [a.state, a.level, a.at]),
      [
        ['raised', 'warning', alerts[0]!.at],
        ['cleared', 'warning', third],
      ],
    );
    assert.deepEqual(metrics.summary().alerts, []);
    await metrics.close();
  });
});
