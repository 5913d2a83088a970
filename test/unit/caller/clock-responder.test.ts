import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClockResponder } from '../../../src/caller/clock-responder.js';
import { encodeCallerMessage, parseCallerMessage } from '../../../src/caller/heard-report.js';

function responder(maxPerSecond?: number) {
  let clock = 1_000_000;
  const sent: Array<{ to: string; message: unknown }> = [];
  const r = new ClockResponder({
    publish: (payload, to) => {
      sent.push({ to, message: parseCallerMessage(payload) });
    },
    now: () => clock,
    maxPerSecond,
  });
  return { r, sent, advance: (ms: number) => (clock += ms) };
}

const ping = (id: number) => encodeCallerMessage({ v: 1, type: 'clock_ping', id, sentAt: 500 })!;

describe('ClockResponder', () => {
  it('answers a ping to the asker alone, with its clock', () => {
    const { r, sent } = responder();
    r.receive(ping(4), 'caller');
    assert.deepEqual(sent, [
      {
        to: 'caller',
        message: {
          v: 1,
          type: 'clock_pong',
          id: 4,
          pingSentAt: 500,
          receivedAt: 1_000_000,
          sentAt: 1_000_000,
        },
      },
    ]);
  });

  it('drops a flood of pings past its rate, per asker, and counts them', () => {
    const { r, sent, advance } = responder(5);
    for (let i = 0; i < 50; i++) {
      r.receive(ping(i), 'flooder');
      advance(10);
    }
    r.receive(ping(99), 'caller');
    assert.equal(sent.filter((s) => s.to === 'flooder').length, 3, 'one per 200 ms');
    assert.equal(sent.filter((s) => s.to === 'caller').length, 1);
    assert.equal(r.dropped, 47);
  });

  it('ignores everything that is not a valid ping, without throwing', () => {
    const { r, sent } = responder();
    const report = encodeCallerMessage({
      v: 1,
      type: 'heard_latency',
      seq: 1,
      heardLatencyMs: 10,
      callerSpeechEndAt: 100,
      agentAudioAt: 110,
    })!;
    for (const p of [report, '{"v":1,"type":"clock_ping","id":-1,"sentAt":1}', 'junk', '']) {
      assert.equal(r.receive(p, 'caller'), undefined);
    }
    assert.equal(r.receive(ping(1), ''), undefined, 'a sender without identity');
    assert.equal(sent.length, 0);
  });

  it('survives a publish that throws or rejects', () => {
    for (const publish of [
      () => {
        throw new Error('not connected');
      },
      () => Promise.reject(new Error('closed')),
    ]) {
      const r = new ClockResponder({ publish, now: () => 1 });
      assert.ok(r.receive(ping(1), 'caller'));
    }
  });
});
