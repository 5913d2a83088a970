/**
 * The room publisher's timing on mocked timers (`node:test`'s mock.timers: setTimeout,
 * setInterval and Date): the summary throttle, the summary a joining viewer gets a second later,
 * the final summary at close, and the rate limits on viewers' requests. No sleeps: the clock moves
 * only when a test ticks it. The same contract on a real AgentSession, in real time, is in
 * test/integration/room-publisher.test.ts.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { MetricsRoom } from '../../../src/options.js';
import { RoomPublisher, type DropReason } from '../../../src/publish/room-publisher.js';
import type { MetricsSummary, TurnTimeline } from '../../../src/types.js';
import { Guard } from '../../../src/util/guard.js';
import { decodeMessage } from '../../../src/wire/decode.js';
import type { MetricsMessage } from '../../../src/wire/messages.js';
import { T0, activeAlert, summary, turn } from '../../fixtures/overlay-page/messages.js';

const INTERVAL_MS = 1_000;
const TOPIC = 'agent-metrics';

interface Sent {
  message: MetricsMessage;
  /** The mocked clock when it was published. */
  at: number;
  to: string[] | undefined;
}

/** A connected room that records what would go over the data channel. */
class FakeRoom extends EventEmitter implements MetricsRoom {
  isConnected = true;
  readonly name = 'room-under-test';
  readonly sent: Sent[] = [];
  readonly localParticipant = {
    publishData: async (data: Uint8Array, options: { destination_identities?: string[] }) => {
      const message = decodeMessage(data);
      assert.ok(message, 'every published payload is a valid message');
      this.sent.push({ message, at: Date.now(), to: options.destination_identities });
    },
  };

  summaries(): Array<Sent & { message: { type: 'summary' } }> {
    return this.sent.filter((s): s is Sent & { message: { type: 'summary' } } => {
      return s.message.type === 'summary';
    });
  }

  /** A viewer's summary request, as the SDK hands it over (`identity` undefined: unnamed). */
  request(identity: string | undefined): void {
    const payload = new TextEncoder().encode(
      JSON.stringify({ v: 2, type: 'summary_request', identity: identity ?? 'claimed' }),
    );
    this.emit('dataReceived', payload, identity === undefined ? undefined : { identity }, 0, TOPIC);
  }
}

/** A publisher on a fake room whose summary the test changes by hand. */
function setup(destinationIdentities?: string[]) {
  const room = new FakeRoom();
  const state: { summary: MetricsSummary; lastTurn: TurnTimeline | undefined } = {
    summary: summary({ turns: 0 }),
    lastTurn: undefined,
  };
  const dropped: DropReason[] = [];
  const adjusted: string[] = [];
  const publisher = RoomPublisher.start(
    { room, topic: TOPIC, intervalMs: INTERVAL_MS, destinationIdentities },
    {
      // a fresh `at` every time, as the core's summary has: only the content counts as a change
      summary: () => ({ ...state.summary, at: Date.now() }),
      lastTurn: () => state.lastTurn,
      now: () => Date.now(),
      guard: new Guard({ warn: () => {} }),
      dropped: (reason) => dropped.push(reason),
      adjusted: (kind, action) => adjusted.push(`${kind}:${action}`),
    },
  )!;
  /** A new turn: the summary changes and the publisher hears of it. */
  const completeTurn = () => {
    state.summary = summary({ turns: state.summary.turns + 1 });
    state.lastTurn = turn({ id: `speech_${state.summary.turns}` });
    publisher.turn(state.lastTurn);
  };
  return { room, state, publisher, dropped, adjusted, completeTurn };
}

/** Lets queued microtasks run (mocked timers do not touch them). */
const settled = () => Promise.resolve();

/**
 * Moves the mocked clock to `t` ms after T0, a millisecond at a time: Node 20's `tick(ms)` moves
 * Date to the end of the tick before it runs the timers that fell due in it, so a timer would
 * otherwise see the wrong time.
 */
function tickTo(t: number): void {
  while (Date.now() < T0 + t) mock.timers.tick(1);
}

describe('RoomPublisher on mocked timers', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: T0 }));
  afterEach(() => mock.timers.reset());

  it('sends a changed summary at most once per intervalMs, with the latest content', async () => {
    const { room, publisher, completeTurn } = setup();
    await settled(); // the publisher starts once its owner has finished wiring (a microtask)
    // connected at construction: the first summary goes at once
    assert.deepEqual(
      room.summaries().map((s) => [s.at - T0, s.message.summary.turns]),
      [[0, 0]],
    );
    tickTo(100);
    completeTurn();
    assert.equal(room.sent.at(-1)!.message.type, 'turn', 'the turn itself goes at once');
    tickTo(400);
    completeTurn();
    tickTo(999);
    assert.equal(room.summaries().length, 1, 'not before the interval has passed');
    tickTo(1_000);
    // one summary for both turns, the moment the interval has passed
    assert.deepEqual(
      room.summaries().map((s) => [s.at - T0, s.message.summary.turns]),
      [
        [0, 0],
        [1_000, 2],
      ],
    );
    // a steady stream of turns: summaries follow at the interval, never faster
    for (let t = 1_050; t < 5_000; t += 150) {
      tickTo(t);
      completeTurn();
    }
    tickTo(6_000);
    const times = room.summaries().map((s) => s.at - T0);
    assert.deepEqual(times, [0, 1_000, 2_000, 3_000, 4_000, 5_000]);
    assert.equal(room.summaries().at(-1)!.message.summary.turns, 2 + 27, 'the latest content');
    assert.equal(room.sent.filter((s) => s.message.type === 'turn').length, 2 + 27);
    publisher.close();
  });

  it('never re-sends an unchanged summary, and sends a change no event announced on the tick', async () => {
    const { room, state, publisher } = setup();
    await settled();
    tickTo(30_000);
    assert.equal(room.summaries().length, 1, 'an unchanged summary is not re-sent');
    // e.g. a failed STT request: the summary changes, but nothing calls the publisher
    tickTo(30_200);
    state.summary = summary({ turns: 0, cancelledTurns: 1 });
    tickTo(30_999);
    assert.equal(room.summaries().length, 1);
    tickTo(31_000); // the interval's own tick (every intervalMs since construction)
    assert.deepEqual(
      room.summaries().map((s) => [s.at - T0, s.message.summary.cancelledTurns]),
      [
        [0, 0],
        [31_000, 1],
      ],
    );
    tickTo(60_000);
    assert.equal(room.summaries().length, 2);
    publisher.close();
  });

  it('sends a joining viewer the summary and the last turn one second after it joined', () => {
    const { room, publisher, completeTurn } = setup(['viewer', 'ops']);
    completeTurn();
    tickTo(5_000);
    const before = room.sent.length;
    room.emit('participantConnected', { identity: 'viewer' });
    room.emit('participantConnected', { identity: 'stranger' }); // not a recipient
    tickTo(5_999);
    assert.equal(room.sent.length, before, 'its data channel is usually not open yet');
    tickTo(6_000);
    assert.deepEqual(
      room.sent.slice(before).map((s) => [s.message.type, s.to, s.at - T0]),
      [
        ['summary', ['viewer'], 6_000],
        ['turn', ['viewer'], 6_000],
      ],
      'the unchanged summary goes again, to the viewer alone',
    );
    tickTo(20_000);
    assert.equal(room.sent.length, before + 2, 'once');
    publisher.close();
  });

  it('publishes the final summary at close, with what was still waiting for the interval', () => {
    const { room, publisher, completeTurn, dropped } = setup();
    tickTo(200);
    completeTurn(); // its summary would go at 1000
    tickTo(300);
    publisher.close();
    const final = room.summaries().at(-1)!;
    assert.equal(final.message.final, true);
    assert.equal(final.message.summary.turns, 1);
    assert.equal(final.at - T0, 300, 'at once');
    const sent = room.sent.length;
    publisher.close(); // idempotent
    room.emit('participantConnected', { identity: 'late' });
    completeTurn();
    publisher.alert({ state: 'raised', ...activeAlert() });
    room.request('late');
    tickTo(60_000);
    assert.equal(room.sent.length, sent, 'nothing after the final summary: its timers are gone');
    assert.deepEqual(dropped, []);
  });

  it('answers summary requests within the rate limits and counts the rest as rate_limited', () => {
    const { room, publisher, dropped, completeTurn } = setup();
    completeTurn();
    const answers = (from: number) => room.sent.slice(from).filter((s) => s.to !== undefined);
    let from = room.sent.length;
    for (let i = 0; i < 3; i++) room.request('viewer');
    assert.deepEqual(
      answers(from).map((s) => [s.message.type, s.to]),
      [
        ['summary', ['viewer']],
        ['turn', ['viewer']],
        ['summary', ['viewer']],
        ['turn', ['viewer']],
      ],
      'two answers a second per sender',
    );
    assert.deepEqual(dropped, ['rate_limited']);
    tickTo(999);
    from = room.sent.length;
    room.request('viewer');
    assert.equal(answers(from).length, 0, 'still within the same second');
    tickTo(1_000);
    room.request('viewer');
    assert.equal(answers(from).length, 2, 'answered again a second after the first answers');
    assert.deepEqual(dropped, ['rate_limited', 'rate_limited']);
    publisher.close();
  });

  it('publishes a summary with values viewers would refuse as one they read, and counts each', () => {
    const { room, state, publisher, dropped, adjusted } = setup();
    // a provider reporting in the wrong unit: a TTFT in ns, 1.2M tokens/s, a cost of 5.4e16
    const s = summary({ usage: { entries: [], currency: 'USD', cost: 5.4e16 } });
    s.stats.ttft = { ...s.stats.ttft, p50: 3.5e8, p90: 3.5e8 };
    s.stats.tokens_per_sec = { ...s.stats.tokens_per_sec, p90: 1.2e6 };
    state.summary = s;
    publisher.alert({ state: 'raised', ...activeAlert() });
    const sent = room.summaries(); // FakeRoom decodes each payload and fails on a null
    assert.equal(sent.length, 1);
    const { stats, usage } = sent[0]!.message.summary;
    assert.deepEqual(
      [stats.ttft.p50, stats.ttft.p90, stats.tokens_per_sec.p90],
      [null, null, null],
    );
    assert.equal(usage.cost, undefined);
    assert.deepEqual(adjusted.sort(), [
      'amount:dropped',
      'duration:dropped',
      'duration:dropped',
      'rate:dropped',
    ]);
    assert.deepEqual(dropped, []);
    // a summary nothing can make valid (a NaN count it cannot go without) is counted, not sent
    state.summary = summary({ turns: Number.NaN });
    tickTo(INTERVAL_MS);
    publisher.turn(turn());
    assert.equal(room.summaries().length, 1);
    assert.deepEqual(dropped, ['invalid']);
    publisher.close();
  });
});
