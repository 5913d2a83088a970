import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type HeardLatencyReport,
  MAX_CALLER_MESSAGE_BYTES,
  clockPong,
  clockSample,
  encodeCallerMessage,
  estimateClockOffset,
  newMeterId,
  parseCallerMessage,
  splitHeardLatency,
  toCallerMessage,
} from '../../../src/caller/heard-report.js';

const report: HeardLatencyReport = {
  v: 1,
  type: 'heard_latency',
  seq: 3,
  heardLatencyMs: 1352.4,
  callerSpeechEndAt: 1_796_100_614_421.1,
  agentAudioAt: 1_796_100_615_773.5,
  clockOffsetMs: -3.3,
  clockRttMs: 16.6,
};

/** The valid report with `change` applied to a copy of it, as JSON text. */
function mutated(change: (raw: any) => void): string {
  const raw = JSON.parse(JSON.stringify(report));
  change(raw);
  return JSON.stringify(raw);
}

describe('parseCallerMessage', () => {
  it('reads back exactly what was encoded, for each message type', () => {
    const ping = { v: 1, type: 'clock_ping', id: 7, sentAt: 1_796_100_000_000.5 } as const;
    const pong = clockPong(ping, 1_796_100_000_010, 1_796_100_000_010.2);
    const browser = { ...report, outputLatencyMs: 42.7, heardLatencyMs: 1395.1 };
    for (const m of [report, ping, pong, browser]) {
      assert.deepEqual(parseCallerMessage(encodeCallerMessage(m)!), m);
      assert.deepEqual(parseCallerMessage(JSON.stringify(m)), m);
    }
  });

  it('keeps only the known fields', () => {
    const parsed = parseCallerMessage(mutated((r) => (r.identity = 'someone else')));
    assert.deepEqual(parsed, report);
  });

  it('rejects negative, huge, non-finite and inconsistent latencies', () => {
    const cases: Array<[string, (raw: any) => void]> = [
      ['negative', (r) => ((r.heardLatencyMs = -5), (r.agentAudioAt = r.callerSpeechEndAt - 5))],
      ['over a minute', (r) => ((r.heardLatencyMs = 60_001), (r.agentAudioAt += 60_001 - 1352.4))],
      ['a string', (r) => (r.heardLatencyMs = '1352.4')],
      ['null (what JSON makes of NaN and Infinity)', (r) => (r.heardLatencyMs = null)],
      ['not its two times apart', (r) => (r.heardLatencyMs = 10)],
      ['a time before 1970', (r) => (r.callerSpeechEndAt = -1)],
      ['a time after 2286', (r) => (r.agentAudioAt = 1e14)],
      ['an offset without its round trip', (r) => delete r.clockRttMs],
      ['a round trip over a minute', (r) => (r.clockRttMs = 60_001)],
      ['an absurd output latency', (r) => (r.outputLatencyMs = 5_000)],
    ];
    for (const [what, change] of cases) {
      assert.equal(parseCallerMessage(mutated(change)), null, what);
    }
    assert.equal(parseCallerMessage('{"v":1,"type":"heard_latency","heardLatencyMs":1e999}'), null);
  });

  it('rejects a sequence number that is not a positive integer', () => {
    for (const seq of [0, -1, 1.5, 2 ** 31, '1', null]) {
      assert.equal(parseCallerMessage(mutated((r) => (r.seq = seq))), null, String(seq));
    }
  });

  it('rejects other versions and types, garbage and oversize payloads without throwing', () => {
    assert.equal(parseCallerMessage(mutated((r) => (r.v = 2))), null);
    assert.equal(parseCallerMessage(mutated((r) => (r.type = 'summary'))), null);
    assert.equal(parseCallerMessage(mutated((r) => (r.type = '__proto__'))), null);
    for (const garbage of ['', 'null', '[]', '42', '{', '"heard_latency"']) {
      assert.equal(parseCallerMessage(garbage), null, garbage);
    }
    assert.equal(parseCallerMessage(new Uint8Array([0xff, 0xfe, 0x7b])), null, 'not UTF-8');
    const padded = mutated((r) => (r.pad = 'x'.repeat(MAX_CALLER_MESSAGE_BYTES)));
    assert.equal(parseCallerMessage(padded), null, 'oversize text');
    assert.equal(parseCallerMessage(new TextEncoder().encode(padded)), null, 'oversize bytes');
    assert.equal(parseCallerMessage(42 as never), null, 'not a payload');
  });

  it('rejects a pong answered before it was received', () => {
    const text = JSON.stringify({
      v: 1,
      type: 'clock_pong',
      id: 1,
      pingSentAt: 1_000,
      receivedAt: 2_000,
      sentAt: 1_999,
    });
    assert.equal(parseCallerMessage(text), null);
  });
});

describe('encodeCallerMessage (the sender applies the receiver’s schema)', () => {
  it('sends a valid message as it is, with its meter id', () => {
    const counts = { dropped: 0, adjusted: 0 };
    const withMeter = { ...report, meter: 'Zx_9-abc' };
    assert.deepEqual(parseCallerMessage(encodeCallerMessage(withMeter, counts)!), withMeter);
    assert.deepEqual(counts, { dropped: 0, adjusted: 0 });
  });

  it('fixes what it can and counts each fix', () => {
    const counts = { dropped: 0, adjusted: 0 };
    const fixed = toCallerMessage(
      {
        ...report,
        outputLatencyMs: 3_000, // clamped to 2000, and the latency recomputed with it
        clockRttMs: Number.NaN, // the offset goes with its broken round trip
        meter: 'no spaces allowed',
      },
      counts,
    );
    assert.deepEqual(fixed, {
      v: 1,
      type: 'heard_latency',
      seq: 3,
      heardLatencyMs: report.agentAudioAt - report.callerSpeechEndAt + 2_000,
      callerSpeechEndAt: report.callerSpeechEndAt,
      agentAudioAt: report.agentAudioAt,
      outputLatencyMs: 2_000,
    });
    assert.deepEqual(counts, { dropped: 0, adjusted: 4 });
    assert.deepEqual(parseCallerMessage(encodeCallerMessage(fixed!)!), fixed);
  });

  it('sends nothing it cannot fix, and counts it', () => {
    const counts = { dropped: 0, adjusted: 0 };
    const cases: unknown[] = [
      { ...report, agentAudioAt: report.callerSpeechEndAt + 61_000, heardLatencyMs: 61_000 },
      { ...report, agentAudioAt: report.callerSpeechEndAt - 1 }, // heard before speaking ended
      { ...report, seq: 0 },
      { ...report, callerSpeechEndAt: Number.POSITIVE_INFINITY },
      { v: 1, type: 'clock_ping', id: 2 ** 31, sentAt: 1 },
      { v: 2, type: 'clock_ping', id: 1, sentAt: 1 },
      null,
      'heard_latency',
    ];
    for (const m of cases) assert.equal(encodeCallerMessage(m as never, counts), undefined);
    assert.deepEqual(counts, { dropped: cases.length, adjusted: 0 });
  });

  it('refuses a malformed meter id on the way in', () => {
    for (const meter of ['', 'x'.repeat(33), 'a b', 7]) {
      assert.equal(parseCallerMessage(mutated((r) => (r.meter = meter))), null, String(meter));
    }
  });

  it('makes meter ids that fit the schema and differ', () => {
    const ids = new Set(Array.from({ length: 100 }, newMeterId));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{16}$/);
  });
});

describe('the clock exchange', () => {
  it("recovers the agent's offset when both legs take the same time", () => {
    // the agent's clock is 250 ms ahead; each leg takes 20 ms; the agent holds the ping 1 ms
    const t0 = 10_000;
    const pong = clockPong({ v: 1, type: 'clock_ping', id: 1, sentAt: t0 }, t0 + 20 + 250, 0);
    assert.equal(pong.sentAt, pong.receivedAt, 'an answer never leaves before its ping arrived');
    const s = clockSample({ ...pong, sentAt: pong.receivedAt + 1 }, t0 + 41);
    assert.equal(s.offsetMs, 250);
    assert.equal(s.rttMs, 40);
  });

  it('errs by half the asymmetry, within the estimate’s stated bound', () => {
    // uplink 30 ms, downlink 10 ms, agent 100 ms ahead
    const t0 = 5_000;
    const s = clockSample(
      { v: 1, type: 'clock_pong', id: 1, pingSentAt: t0, receivedAt: t0 + 130, sentAt: t0 + 130 },
      t0 + 40,
    );
    const est = estimateClockOffset([s])!;
    assert.equal(est.offsetMs, 110);
    assert.ok(Math.abs(est.offsetMs - 100) <= est.errorMs);
  });

  it('uses the sample of least round trip', () => {
    const samples = [
      { offsetMs: 30, rttMs: 80, at: 1 },
      { offsetMs: 2, rttMs: 4, at: 2 },
      { offsetMs: -20, rttMs: 50, at: 3 },
    ];
    assert.deepEqual(estimateClockOffset(samples), { offsetMs: 2, rttMs: 4, errorMs: 2 });
    assert.equal(estimateClockOffset([]), undefined);
  });
});

describe('splitHeardLatency', () => {
  it("cuts the caller's wait into uplink, agent and downlink that sum to it", () => {
    // caller clock = agent clock − 1000; speech ended at caller 0 = agent 1000
    const r: HeardLatencyReport = {
      v: 1,
      type: 'heard_latency',
      seq: 1,
      heardLatencyMs: 1_500,
      callerSpeechEndAt: 100_000,
      agentAudioAt: 101_500,
      clockOffsetMs: 1_000,
      clockRttMs: 6,
    };
    const split = splitHeardLatency(r, {
      speechEndReceivedAt: 101_120,
      firstAudioSentAt: 102_320,
    });
    assert.deepEqual(split, { uplinkMs: 120, agentMs: 1_200, downlinkMs: 180, errorMs: 3 });
    assert.equal(
      splitHeardLatency(
        { ...r, clockOffsetMs: undefined, clockRttMs: undefined },
        {
          speechEndReceivedAt: 0,
          firstAudioSentAt: 0,
        },
      ),
      undefined,
      'no offset, no split',
    );
  });
});
