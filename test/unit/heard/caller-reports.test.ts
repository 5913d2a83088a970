import { TrackSource } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { type HeardLatencyReport, parseCallerMessage } from '../../../src/caller/heard-report.js';
import { CallerReports, type HeardRejection } from '../../../src/heard/caller-reports.js';
import type { MetricSample, TurnTimeline } from '../../../src/types.js';
import { Guard } from '../../../src/util/guard.js';

const TOPIC = 'agent-metrics';
/** A message as JSON bytes, as is: the caller's encoder would refuse to send the invalid ones. */
const wire = (m: object) => new TextEncoder().encode(JSON.stringify(m));
const T0 = 1_796_100_000_000;

/** A room stand-in: emits data events as rtc-node does, records what the agent sends. */
class FakeRoom extends EventEmitter {
  readonly isConnected = true;
  readonly name = 'room';
  readonly sent: Array<{ to: string[] | undefined; message: unknown }> = [];
  readonly localParticipant = {
    publishData: async (data: Uint8Array, o: { destination_identities?: string[] }) => {
      this.sent.push({ to: o.destination_identities, message: parseCallerMessage(data) });
    },
  };
}

const caller = (identity: string, mic = true) => ({
  identity,
  trackPublications: new Map(
    mic ? [['TR_mic', { source: TrackSource.SOURCE_MICROPHONE, subscribed: true }]] : [],
  ),
});

function setup(from?: string[]) {
  let clock = T0;
  const room = new FakeRoom();
  const samples: MetricSample[] = [];
  const rejected: HeardRejection[] = [];
  const amended: TurnTimeline[] = [];
  const warnings: unknown[] = [];
  const reports = new CallerReports(
    { room, topic: TOPIC, ...(from ? { from } : {}) },
    {
      now: () => clock,
      sample: (s) => samples.push(s),
      rejected: (r) => rejected.push(r),
      amended: (t) => amended.push(t),
      guard: new Guard({ warn: (o) => warnings.push(o) }),
    },
  );
  const send = (payload: Uint8Array | string, who: object | undefined, topic = TOPIC) =>
    room.emit(
      'dataReceived',
      typeof payload === 'string' ? new TextEncoder().encode(payload) : payload,
      who,
      undefined,
      topic,
    );
  return {
    room,
    reports,
    samples,
    rejected,
    amended,
    warnings,
    send,
    at: (t: number) => (clock = T0 + t),
  };
}

/** A completed voice turn: the framework's end of speech at `stop`, the acoustic one 100 ms
 * before it, agent audio at `stop + e2e`, ended at `end` (ms after T0). */
function turn(id: string, stop: number, e2e: number, end: number, acoustic = true): TurnTimeline {
  const stoppedAt = T0 + stop;
  return {
    id,
    input: 'voice',
    startedAt: stoppedAt,
    endedAt: T0 + end,
    userStoppedSpeakingAt: stoppedAt,
    agentStartedSpeakingAt: stoppedAt + e2e,
    e2eLatencyMs: e2e,
    interrupted: false,
    cancelled: false,
    stages: acoustic
      ? [{ stage: 'speech_end_lag', startAt: stoppedAt - 100, offsetMs: -100, durationMs: 100 }]
      : [],
  };
}

function report(seq: number, heard: number, extra: Partial<HeardLatencyReport> = {}) {
  const callerSpeechEndAt = 5_000_000 + seq * 10_000;
  return wire({
    v: 1,
    type: 'heard_latency',
    seq,
    heardLatencyMs: heard,
    callerSpeechEndAt,
    agentAudioAt: callerSpeechEndAt + heard,
    ...extra,
  });
}

describe('CallerReports (the agent reading heard-latency reports)', () => {
  it('accepts a report sent while its turn runs, as a sample of that turn once it completes', () => {
    const h = setup();
    h.at(1_500);
    h.send(report(1, 1_400), caller('alice'));
    assert.equal(h.samples.length, 0, 'held until the turn completes');
    h.at(4_000);
    h.reports.turn(turn('t1', 0, 900, 4_000));
    assert.deepEqual(
      h.samples.map((s) => [s.stat, s.value, s.turnId]),
      [['heard_latency', 1_400, 't1']],
    );
    const t = h.amended[0]!;
    assert.equal(t.id, 't1');
    assert.equal(t.heardLatencyMs, 1_400);
    // without an offset: heard − (agent audio − acoustic end) = 1400 − 1000
    const network = t.stages.find((s) => s.stage === 'network')!;
    assert.equal(network.durationMs, 400);
    assert.equal(network.startAt, T0 + 900);
    assert.deepEqual(h.rejected, []);
  });

  it('splits uplink and downlink with the clock offset, on the turn it names by time', () => {
    const h = setup();
    h.reports.turn(turn('early', -20_000, 800, -18_000));
    h.reports.turn(turn('t1', 0, 900, 3_000));
    h.at(3_500); // after the turn ended: matched by the caller's speech end, not arrival
    const offset = -42; // agent clock − caller clock
    const speechEnd = T0 - 100 - 250 - offset; // the acoustic end arrived 250 ms after it
    h.send(
      wire({
        v: 1,
        type: 'heard_latency',
        seq: 1,
        heardLatencyMs: 1_600,
        callerSpeechEndAt: speechEnd,
        agentAudioAt: speechEnd + 1_600,
        clockOffsetMs: offset,
        clockRttMs: 10,
      }),
      caller('alice'),
    );
    assert.equal(h.samples[0]?.turnId, 't1');
    const stages = Object.fromEntries(h.amended[0]!.stages.map((s) => [s.stage, s]));
    assert.equal(stages.uplink!.durationMs, 250);
    assert.equal(stages.uplink!.startAt, T0 - 350);
    assert.equal(stages.downlink!.durationMs, 1_600 - 250 - 1_000);
    assert.equal(stages.network, undefined);
  });

  it('counts the network from when the first audible audio left the agent (agent_output)', () => {
    const h = setup();
    const t = turn('t1', 0, 900, 4_000);
    // its first frame went out at +900, its first audible sample 140 ms later
    t.stages.push({ stage: 'agent_output', startAt: T0 + 900, offsetMs: 900, durationMs: 140 });
    h.reports.turn(t);
    h.at(2_000);
    h.send(report(1, 1_400), caller('alice'));
    const network = h.amended[0]!.stages.find((s) => s.stage === 'network')!;
    // heard − (first audible out − acoustic end) = 1400 − (1040 + 100)
    assert.equal(network.durationMs, 1_400 - 1_140);
    assert.equal(network.startAt, T0 + 1_040);
  });

  it('rejects reports from anyone but the caller it listens to, and counts them', () => {
    const h = setup();
    h.reports.turn(turn('t1', 0, 900, 4_000));
    h.at(2_000);
    h.send(report(1, 1_400), caller('viewer', false)); // no microphone: a viewer
    h.send(report(1, 1_400), undefined); // a hidden sender
    h.send(report(1, 1_400), caller('alice'));
    h.at(2_600);
    h.send(report(2, 1_400), caller('mallory')); // a second caller, after alice was linked
    assert.deepEqual(h.rejected, ['not_linked', 'not_linked', 'not_linked']);
    assert.equal(h.samples.length, 1);
  });

  it('with an allowlist, accepts only the identities on it', () => {
    const h = setup(['bob']);
    h.reports.turn(turn('t1', 0, 900, 4_000));
    h.at(2_000);
    h.send(report(1, 1_400), caller('alice'));
    h.send(report(1, 1_400), caller('bob', false));
    assert.deepEqual(h.rejected, ['not_linked']);
    assert.equal(h.samples[0]?.value, 1_400);
  });

  it('rejects garbage, negative, huge and inconsistent reports as invalid', () => {
    const h = setup();
    h.reports.turn(turn('t1', 0, 900, 4_000));
    h.at(2_000);
    const alice = caller('alice');
    h.send('not json', alice);
    h.send('{"v":1,"type":"heard_latency","seq":1}', alice);
    h.send(report(1, -5), alice);
    h.send(report(1, 86_400_000), alice);
    h.send(report(1, Number.NaN), alice);
    h.send(new Uint8Array(100_000), alice);
    h.send(
      wire({
        v: 1,
        type: 'heard_latency',
        seq: 1,
        heardLatencyMs: 10,
        callerSpeechEndAt: 100,
        agentAudioAt: 2_000, // says 10 ms, its times say 1900
      }),
      alice,
    );
    h.send(JSON.stringify({ v: 2, type: 'heard_latency' }), alice);
    assert.deepEqual(h.rejected, Array(8).fill('invalid'));
    // a viewer's summary request on the same topic, and other topics, are not reports
    h.send(JSON.stringify({ v: 2, type: 'summary_request', identity: 'alice' }), alice);
    h.send(report(1, 1_400), alice, 'another-topic');
    assert.equal(h.rejected.length, 8);
    assert.equal(h.samples.length, 0);
    assert.equal(h.warnings.length, 1, 'logged once');
  });

  it('keeps one report per turn: a flood, a replay and a second report are rejected', () => {
    const h = setup();
    h.at(1_000);
    const alice = caller('alice');
    for (let i = 0; i < 20; i++) h.send(report(1 + i, 1_400), alice);
    assert.deepEqual(h.rejected, Array(19).fill('rate_limited'));
    h.reports.turn(turn('t1', 0, 900, 4_000));
    h.at(1_600);
    h.send(report(1, 1_400), alice);
    assert.equal(h.rejected.at(-1), 'replayed');
    h.at(2_200);
    h.send(report(30, 1_300), alice); // a second report for the same turn
    assert.equal(h.rejected.at(-1), 'duplicate');
    assert.deepEqual(
      h.samples.map((s) => s.value),
      [1_400],
    );
  });

  it('rejects a report the agent proves impossible, and one that never finds its turn', () => {
    const h = setup();
    h.reports.turn(turn('t1', 0, 900, 4_000));
    h.at(2_000);
    // heard 500 ms, but the agent itself took 1000 ms from the acoustic end to its audio
    h.send(report(1, 500), caller('alice'));
    assert.deepEqual(h.rejected, ['implausible']);
    h.at(10_000); // long after every turn: waits, then is given up
    h.send(report(2, 1_400), caller('alice'));
    h.at(80_000);
    h.reports.turn(turn('t2', 70_000, 900, 72_000));
    assert.deepEqual(h.rejected, ['implausible', 'no_turn']);
    assert.equal(h.samples.length, 0);
  });

  it('pins no one on a report it never accepted: a forger before the first turn wins nothing', () => {
    const h = setup();
    const forger = caller('mallory');
    const alice = caller('alice');
    const ping = (id: number) => wire({ v: 1, type: 'clock_ping', id, sentAt: 1 });
    // well-formed, before any turn: it can belong to no turn, so it is refused when one completes
    h.at(-5_000);
    h.send(report(1, 59_000), forger);
    for (let i = 0; i < 4; i++) {
      const start = i * 10_000;
      h.at(start + 1_500);
      h.send(report(2 + i, 59_000), forger); // in the window, but 58 s of "network"
      h.at(start + 2_100);
      h.send(report(1 + i, 1_400), alice);
      h.at(start + 4_000);
      h.reports.turn(turn(`t${i + 1}`, start, 900, start + 4_000));
    }
    assert.deepEqual(
      h.samples.map((s) => [s.value, s.turnId]),
      [
        [1_400, 't1'],
        [1_400, 't2'],
        [1_400, 't3'],
        [1_400, 't4'],
      ],
    );
    assert.equal(h.reports.caller, 'alice');
    assert.equal(h.rejected[0], 'no_turn', 'the early report');
    // after t1 pinned alice, mallory's reports are not her caller's
    assert.deepEqual(h.rejected.slice(1), ['implausible', ...Array(3).fill('not_linked')]);
    h.at(50_000);
    h.send(ping(1), alice);
    h.send(ping(2), forger);
    assert.deepEqual(
      h.room.sent.map((s) => s.to),
      [['alice']],
    );
  });

  it('refuses a report received before its turn’s audio, whatever clock offset it carries', () => {
    const h = setup();
    const offset = 86_400_000; // a day: enough to name any turn by time
    const callerSpeechEndAt = T0 - 350 - offset; // maps onto t1's acoustic end − 250 ms
    h.at(-200); // 1.1 s before t1's audio (+900)
    h.send(
      wire({
        v: 1,
        type: 'heard_latency',
        seq: 1,
        heardLatencyMs: 1_400,
        callerSpeechEndAt,
        agentAudioAt: callerSpeechEndAt + 1_400,
        clockOffsetMs: offset,
        clockRttMs: 10,
      }),
      caller('mallory'),
    );
    h.at(4_000);
    h.reports.turn(turn('t1', 0, 900, 4_000));
    assert.deepEqual(h.samples, []);
    assert.deepEqual(h.rejected, ['no_turn']);
    assert.equal(h.reports.caller, undefined);
  });

  it('refuses a report whose clock-mapped times contradict its turn, inside the window', () => {
    const h = setup();
    h.reports.turn(turn('t1', 0, 900, 4_000));
    h.at(2_000);
    // its speech end, mapped with its offset, lies 3 s after the agent's own acoustic end
    const offset = -42;
    const callerSpeechEndAt = T0 - 100 + 3_000 - offset;
    h.send(
      wire({
        v: 1,
        type: 'heard_latency',
        seq: 1,
        heardLatencyMs: 1_400,
        callerSpeechEndAt,
        agentAudioAt: callerSpeechEndAt + 1_400,
        clockOffsetMs: offset,
        clockRttMs: 10,
      }),
      caller('alice'),
    );
    assert.deepEqual(h.rejected, ['implausible']);
    assert.deepEqual(h.samples, []);
  });

  it('takes a restarted helper’s new meter id as a fresh seq, at most once per 10 s', () => {
    const h = setup();
    const alice = caller('alice');
    const turnAt = (i: number) => {
      h.at(i * 20_000 + 4_000);
      h.reports.turn(turn(`t${i}`, i * 20_000, 900, i * 20_000 + 4_000));
    };
    const sendAt = (i: number, seq: number, meter: string | undefined) => {
      h.at(i * 20_000 + 2_000);
      h.send(report(seq, 1_400, meter === undefined ? {} : { meter }), alice);
    };
    for (let i = 0; i < 5; i++) {
      sendAt(i, 1 + i, 'a1b2c3');
      turnAt(i);
    }
    sendAt(5, 1, 'restarted'); // the helper restarted: its seq starts from 1 again
    turnAt(5);
    assert.equal(h.samples.length, 6);
    assert.deepEqual(h.rejected, []);
    // another new id 1 s after that one is not taken (made-up ids would let replays through)
    h.at(5 * 20_000 + 3_000);
    h.send(report(1, 1_400, { meter: 'made-up' }), alice);
    assert.deepEqual(h.rejected, ['rate_limited']);
    // the same meter's seq still has to grow
    h.at(6 * 20_000 + 2_000);
    h.send(report(1, 1_400, { meter: 'restarted' }), alice);
    assert.deepEqual(h.rejected, ['rate_limited', 'replayed']);
    h.at(6 * 20_000 + 2_600);
    h.send(report(2, 1_400, { meter: 'restarted' }), alice);
    turnAt(6);
    assert.equal(h.samples.length, 7);
    // however many ids it makes up, a sender restarts at most once per 10 s
    let taken = 0;
    for (let i = 0; i < 120; i++) {
      h.at(200_000 + i * 500);
      const before = h.rejected.length;
      h.send(report(1, 1_400, { meter: `id${i}` }), alice);
      if (h.rejected.length === before || h.rejected.at(-1) !== 'rate_limited') taken++;
    }
    assert.equal(taken, 6, '60 s of new ids every 500 ms');
  });

  it('refuses a waiting report of another sender once a caller was accepted', () => {
    const h = setup();
    h.at(1_500);
    h.send(report(1, 1_400), caller('alice'));
    h.at(1_600);
    h.send(report(1, 1_500), caller('mallory'));
    h.at(4_000);
    h.reports.turn(turn('t1', 0, 900, 4_000));
    assert.deepEqual(
      h.samples.map((s) => s.value),
      [1_400],
    );
    assert.deepEqual(h.rejected, ['not_linked']);
    assert.equal(h.reports.caller, 'alice');
  });

  it('ignores a clock offset from an exchange of over 2 s round trip (network left unsplit)', () => {
    const h = setup();
    h.reports.turn(turn('t1', 0, 900, 4_000));
    h.at(2_000);
    h.send(report(1, 1_400, { clockOffsetMs: 1e9, clockRttMs: 2_500 }), caller('alice'));
    assert.equal(h.samples.length, 1);
    const stages = h.amended[0]!.stages.map((s) => s.stage);
    assert.ok(stages.includes('network') && !stages.includes('uplink'), stages.join());
  });

  it('takes the next accepted report’s sender as the caller once the caller left', () => {
    const h = setup();
    h.reports.turn(turn('t1', 0, 900, 4_000));
    h.at(2_000);
    h.send(report(1, 1_400), caller('alice'));
    assert.equal(h.reports.caller, 'alice');
    h.room.emit('participantDisconnected', caller('someone'));
    assert.equal(h.reports.caller, 'alice');
    h.room.emit('participantDisconnected', caller('alice'));
    assert.equal(h.reports.caller, undefined);
    h.reports.turn(turn('t2', 10_000, 900, 14_000));
    h.at(12_000);
    h.send(report(1, 1_300), caller('bob'));
    assert.equal(h.reports.caller, 'bob');
    assert.equal(h.samples.length, 2);
  });

  it('answers clock pings from its caller only, and a bounded number', () => {
    const h = setup();
    const ping = (id: number) => wire({ v: 1, type: 'clock_ping', id, sentAt: 1 });
    h.send(ping(1), caller('viewer', false));
    h.send(ping(2), caller('alice'));
    for (let i = 0; i < 10; i++) h.send(ping(3 + i), caller('alice'));
    assert.equal(h.room.sent.length, 1);
    assert.deepEqual(h.room.sent[0]!.to, ['alice']);
    assert.equal((h.room.sent[0]!.message as { id: number }).id, 2);
  });
});
