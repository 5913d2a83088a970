import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsFeed } from '../../../src/view/metrics-feed.js';
import { encodeMessage } from '../../../src/wire/encode.js';
import type { MetricsMessage } from '../../../src/wire/messages.js';
import {
  activeAlert,
  alertMessage,
  summary,
  summaryMessage,
  turn,
  turnMessage,
} from '../../fixtures/overlay-page/messages.js';

/** Decoded records have no prototype; compare their JSON. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const wire = (message: MetricsMessage) => encodeMessage(message)!;

describe('MetricsFeed', () => {
  it('folds a summary, a turn and alerts into the sender’s state', () => {
    const feed = new MetricsFeed();
    assert.ok(feed.receive(wire(summaryMessage({ seq: 1 })), 'agent-1'));
    assert.ok(feed.receive(wire(turnMessage({ seq: 2 })), 'agent-1'));
    assert.ok(feed.receive(wire(alertMessage({ seq: 3 }, 'raised')), 'agent-1'));
    const state = feed.latest!;
    assert.equal(state.sender, 'agent-1');
    assert.equal(state.session, 'sess-a');
    assert.equal(state.room, 'support-room');
    assert.deepEqual(plain(state.summary), plain(summary()));
    assert.deepEqual(state.lastTurn, turn());
    assert.deepEqual(state.alerts, [activeAlert()]);
    assert.deepEqual([state.seq, state.received, state.final], [3, 3, false]);
  });

  it('drops repeated and out-of-order sequence numbers', () => {
    const feed = new MetricsFeed();
    feed.receive(wire(summaryMessage({ seq: 5 })), 'a');
    assert.equal(feed.receive(wire(summaryMessage({ seq: 5 }, summary({ turns: 99 }))), 'a'), null);
    assert.equal(feed.receive(wire(turnMessage({ seq: 4 })), 'a'), null);
    assert.equal(feed.latest!.summary!.turns, 12);
    assert.equal(feed.latest!.lastTurn, undefined);
    assert.equal(feed.latest!.received, 1);
    assert.equal(feed.rejected, 0, 'stale is not invalid');
  });

  it('starts over when the same sender publishes with a new session id', () => {
    const feed = new MetricsFeed();
    feed.receive(wire(summaryMessage({ seq: 7 })), 'a');
    feed.receive(wire(turnMessage({ seq: 8 })), 'a');
    assert.ok(
      feed.receive(wire(alertMessage({ seq: 1, session: 'sess-b', at: 1e13 }, 'raised')), 'a'),
    );
    const state = feed.latest!;
    assert.deepEqual(
      [state.session, state.seq, state.received, state.summary, state.lastTurn],
      ['sess-b', 1, 1, undefined, undefined],
    );
    assert.equal(state.alerts.length, 1);
  });

  it('ignores a late packet of a session that was replaced', () => {
    const feed = new MetricsFeed();
    feed.receive(wire(summaryMessage({ seq: 1, session: 'new', at: 2e12 })), 'a');
    assert.equal(
      feed.receive(wire(summaryMessage({ seq: 9, session: 'old', at: 1e12 })), 'a'),
      null,
    );
    assert.equal(feed.latest!.session, 'new');
  });

  it('keeps one alert per metric and component: raised, escalated, cleared', () => {
    const feed = new MetricsFeed();
    const llmErrors = activeAlert({
      metric: 'error_rate',
      component: 'llm',
      value: 6,
      threshold: 5,
    });
    const ttsErrors = { ...llmErrors, component: 'tts' as const };
    let seq = 0;
    const send = (state: 'raised' | 'cleared', alert = activeAlert()) =>
      feed.receive(wire(alertMessage({ seq: ++seq }, state, alert)), 'a');
    const active = () =>
      feed.latest!.alerts.map((a) => `${a.metric}:${a.component ?? ''}:${a.level}`);

    send('raised');
    send('raised', llmErrors);
    send('raised', ttsErrors);
    assert.deepEqual(active(), [
      'ttft::warning',
      'error_rate:llm:warning',
      'error_rate:tts:warning',
    ]);
    send('raised', activeAlert({ level: 'critical', value: 3600, threshold: 3500 }));
    assert.deepEqual(active(), [
      'error_rate:llm:warning',
      'error_rate:tts:warning',
      'ttft::critical',
    ]);
    send('cleared', llmErrors);
    send('cleared', activeAlert({ level: 'critical' }));
    assert.deepEqual(active(), ['error_rate:tts:warning']);
  });

  it('takes the active alerts and the final flag from each summary', () => {
    const feed = new MetricsFeed();
    feed.receive(wire(alertMessage({ seq: 1 }, 'raised')), 'a');
    feed.receive(wire(summaryMessage({ seq: 2 }, summary({ alerts: [] }), true)), 'a');
    assert.deepEqual(feed.latest!.alerts, []);
    assert.equal(feed.latest!.final, true);
  });

  it('tracks each sender apart, and forgets the least recently updated past maxAgents', () => {
    const feed = new MetricsFeed({ maxAgents: 2 });
    feed.receive(wire(summaryMessage({ seq: 1, room: 'r1' })), 'one');
    feed.receive(wire(summaryMessage({ seq: 1, room: 'r2' })), 'two');
    feed.receive(wire(turnMessage({ seq: 2 })), 'one'); // `one` is now the most recent
    feed.receive(wire(summaryMessage({ seq: 1, room: 'r3' })), 'three');
    assert.deepEqual(
      feed.agents.map((a) => a.sender),
      ['one', 'three'],
    );
    assert.equal(feed.latest!.sender, 'three');
    feed.forget('three');
    assert.equal(feed.latest!.sender, 'one');
  });

  it('counts payloads that are not messages as rejected, and never throws', () => {
    const feed = new MetricsFeed();
    const bad = [new Uint8Array([0xff]), '{"v":2}', 'null', new ArrayBuffer(20_000), ''];
    for (const payload of bad) assert.equal(feed.receive(payload, 'a'), null);
    assert.equal(feed.rejected, bad.length);
    assert.deepEqual(feed.agents, []);
  });
});
