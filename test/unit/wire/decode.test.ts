import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage, readMessage } from '../../../src/wire/decode.js';
import { encodeMessage } from '../../../src/wire/encode.js';
import { MAX_MESSAGE_BYTES, type MetricsMessage } from '../../../src/wire/messages.js';
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

const json = (value: unknown) => JSON.stringify(value);
const valid = summaryMessage({ seq: 1 });

/** The valid summary message with `change` applied to a copy of its parsed JSON. */
function mutated(change: (raw: any) => void): string {
  const raw = JSON.parse(json(valid));
  change(raw);
  return json(raw);
}

describe('decodeMessage', () => {
  it('reads back exactly what was encoded, for each message type', () => {
    const messages: MetricsMessage[] = [
      valid,
      summaryMessage({ seq: 2 }, summary({ alerts: [activeAlert()], bottleneck: null }), true),
      turnMessage({ seq: 3 }),
      turnMessage({ seq: 4 }, turn({ traceId: 'abc', e2eLatencyMs: undefined })),
      alertMessage({ seq: 5 }, 'raised'),
      alertMessage({ seq: 6 }, 'cleared', activeAlert({ metric: 'error_rate', component: 'tts' })),
    ];
    for (const message of messages) {
      const expected = JSON.parse(json(message)); // undefined fields do not travel
      assert.deepEqual(plain(decodeMessage(encodeMessage(message)!)), expected, message.type);
    }
  });

  it('accepts a string (an RPC answer), an ArrayBuffer, and an already-parsed value', () => {
    const text = json(valid);
    assert.deepEqual(plain(decodeMessage(text)), plain(valid));
    assert.deepEqual(plain(decodeMessage(new TextEncoder().encode(text).buffer)), plain(valid));
    assert.deepEqual(plain(readMessage(JSON.parse(text))), plain(valid));
  });

  it('returns null for anything that is not a well-formed message of this version', () => {
    const cases: Record<string, string | Uint8Array> = {
      'another version': mutated((m) => (m.v = 1)),
      'a version as a string': mutated((m) => (m.v = '1')),
      'an unknown type': mutated((m) => (m.type = 'metrics')),
      'empty bytes': new Uint8Array(),
      'garbage bytes': Uint8Array.from({ length: 512 }, (_, i) => (i * 97) % 256),
      'invalid UTF-8': Uint8Array.from([0x7b, 0xc3, 0x28, 0x7d]),
      'JSON null': 'null',
      'a JSON array': '[1]',
      'a JSON string': '"summary"',
      'a non-finite number': '1e400',
      'a message without fields': '{"v":1,"type":"summary"}',
      'a negative sequence number': mutated((m) => (m.seq = -1)),
      'a fractional sequence number': mutated((m) => (m.seq = 1.5)),
      'a session that is not a string': mutated((m) => (m.session = 7)),
      'a missing summary': mutated((m) => delete m.summary),
      'a stat as a string': mutated((m) => (m.summary.stats.ttft.p90 = '1210')),
      'a count as a float': mutated((m) => (m.summary.turns = 1.5)),
      'an unknown bottleneck': mutated((m) => (m.summary.bottleneck = 'gpu')),
      'a negative latency': mutated((m) => (m.summary.stats.ttft.p90 = -5)),
      'a latency over a day': mutated((m) => (m.summary.stats.ttft.p90 = 1e12)),
      'an error rate over 100%': mutated((m) => (m.summary.components.llm.errorRate = 250)),
      'a stage offset of years': json({
        ...turnMessage({ seq: 1 }),
        turn: { ...turn(), stages: [{ ...turn().stages[0], offsetMs: -1e15, durationMs: 1e15 }] },
      }),
      'a label that is not a string': mutated((m) => (m.summary.labels = { a: 1 })),
      'stages that are not a list': json({
        ...turnMessage({ seq: 1 }),
        turn: { ...turn(), stages: {} },
      }),
      'an unknown stage': json({
        ...turnMessage({ seq: 1 }),
        turn: { ...turn(), stages: [{ ...turn().stages[0], stage: 'gpu' }] },
      }),
      'an unknown alert state': json({
        ...alertMessage({ seq: 1 }, 'raised'),
        alert: { ...activeAlert(), state: 'on' },
      }),
      'deep nesting': '['.repeat(7000) + ']'.repeat(7000),
    };
    for (const [name, payload] of Object.entries(cases)) {
      assert.equal(decodeMessage(payload), null, name);
    }
  });

  it('leaves out an alert it cannot read (e.g. a level it does not know) and keeps the rest', () => {
    const decoded = decodeMessage(
      mutated((m) => (m.summary.alerts = [{ ...activeAlert(), level: 'fatal' }, activeAlert()])),
    );
    assert.equal(decoded?.type === 'summary' && decoded.summary.alerts.length, 1);
  });

  it('refuses payloads over the reliable-packet limit before parsing them', () => {
    const padded = mutated((m) => (m.summary.labels = { pad: 'x'.repeat(MAX_MESSAGE_BYTES) }));
    assert.equal(decodeMessage(padded), null);
    assert.equal(decodeMessage(new TextEncoder().encode(padded)), null);
    assert.equal(decodeMessage(new Uint8Array(1024 * 1024)), null);
  });

  it('keeps only known fields, caps strings and lists, and fills optional fields', () => {
    const raw = JSON.parse(json(turnMessage({ seq: 1 })));
    raw.extra = 'dropped';
    raw.turn.stages[0].extra = 'dropped';
    raw.room = 'r'.repeat(1000);
    raw.turn.stages = Array.from({ length: 100 }, () => raw.turn.stages[0]);
    const decoded = decodeMessage(json(raw)) as any;
    assert.equal(decoded.extra, undefined);
    assert.equal(decoded.turn.stages[0].extra, undefined);
    assert.equal(decoded.room.length, 256);
    assert.equal(decoded.turn.stages.length, 64);

    const lean = mutated((m) => {
      for (const key of ['labels', 'interruptedTurns', 'cancelledTurns', 'alerts', 'health']) {
        delete m.summary[key];
      }
      delete m.summary.functions;
    });
    const s = (decodeMessage(lean) as any).summary;
    assert.deepEqual(
      plain([s.labels, s.interruptedTurns, s.cancelledTurns, s.alerts, s.functions]),
      [{}, 0, 0, [], {}],
    );
    assert.deepEqual(plain(s.health), {
      oddFields: {},
      internalErrors: 0,
      containedErrors: {},
      disabledFeatures: {},
      droppedSamples: {},
      droppedMessages: {},
    });
  });

  it('reads `final` as true only when it is exactly true', () => {
    assert.equal((decodeMessage(mutated((m) => (m.final = 'yes'))) as any).final, false);
    assert.equal((decodeMessage(mutated((m) => (m.final = true))) as any).final, true);
  });

  it('keeps a received `__proto__` key as a plain entry, touching no prototype', () => {
    const text = json(valid).replace(
      '"functions":{',
      '"functions":{"__proto__":{"count":1,"errors":0,"avg":null,"polluted":true},',
    );
    const byName = (decodeMessage(text) as any).summary.functions;
    assert.equal(Object.getPrototypeOf(byName), null, 'a record keyed by received names');
    assert.deepEqual(Object.getOwnPropertyDescriptor(byName, '__proto__')?.value, {
      count: 1,
      errors: 0,
      avg: null,
    });
    assert.equal(({} as any).polluted, undefined);
  });
});
