import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage } from '../../../src/wire/decode.js';
import { MAX_STRING_LENGTH, encodeMessage } from '../../../src/wire/encode.js';
import { MAX_MESSAGE_BYTES } from '../../../src/wire/messages.js';
import type { TurnStage } from '../../../src/types.js';
import {
  activeAlert,
  alertMessage,
  summary,
  summaryMessage,
  turn,
  turnMessage,
} from '../../fixtures/overlay-page/messages.js';

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

function bigSummary() {
  const byName = Object.fromEntries(
    Array.from({ length: 50 }, (_, i) => [
      `${String(i).padStart(2, '0')}_${'n'.repeat(125)}`,
      { count: 50 - i, errors: i % 3, avg: 100 + i },
    ]),
  );
  const labels = Object.fromEntries(
    Array.from({ length: 12 }, (_, i) => [`label_${i}`, 'v'.repeat(2000)]),
  );
  const alerts = Array.from({ length: 8 }, (_, i) => activeAlert({ at: i }));
  const health = {
    oddFields: { 'llm_metrics.ttftMs': 3 },
    internalErrors: 1,
    droppedSamples: { negative: 2 },
    droppedMessages: {},
  };
  return summary({ labels, alerts, health, functions: byName });
}

/** Decoded records have no prototype; compare their JSON. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('encodeMessage', () => {
  it('sends a message that fits as its plain JSON, with nothing shed', () => {
    for (const message of [
      summaryMessage({ seq: 1 }),
      turnMessage({ seq: 2 }),
      alertMessage({ seq: 3 }, 'raised'),
    ]) {
      assert.equal(text(encodeMessage(message)), JSON.stringify(message));
    }
  });

  it('sheds detail from a large summary to stay within 15 KiB, and says what it shed', () => {
    const message = summaryMessage({ seq: 1 }, bigSummary());
    assert.ok(JSON.stringify(message).length > MAX_MESSAGE_BYTES, 'the summary starts too large');
    const bytes = encodeMessage(message)!;
    assert.ok(bytes.length <= MAX_MESSAGE_BYTES, `${bytes.length} bytes`);
    const decoded = decodeMessage(bytes);
    assert.ok(decoded?.type === 'summary', 'the receiver reads it');
    assert.deepEqual(decoded.shed, ['health', 'functions', 'labels']);
    assert.deepEqual(plain(decoded.summary.functions), {}, 'tool names went before labels');
    for (const value of Object.values(decoded.summary.labels)) {
      assert.equal(value.length, MAX_STRING_LENGTH);
    }
    assert.equal(decoded.summary.alerts.length, 8, 'alerts were not needed to fit');
    assert.deepEqual(
      decoded.summary.stats,
      message.summary.stats,
      'what the overlay shows is whole',
    );
  });

  it('keeps the ten busiest tool names when dropping the rest is enough', () => {
    const s = bigSummary();
    const labels = Object.fromEntries(
      Array.from({ length: 6 }, (_, i) => [`l${i}`, 'v'.repeat(1000)]),
    );
    const message = summaryMessage({ seq: 1 }, { ...s, labels });
    assert.ok(JSON.stringify(message).length > MAX_MESSAGE_BYTES);
    const decoded = decodeMessage(encodeMessage(message)!);
    assert.ok(decoded?.type === 'summary');
    const names = Object.keys(decoded.summary.functions);
    assert.equal(names.length, 10);
    assert.ok(
      names.every((n, i) => n.startsWith(String(i).padStart(2, '0'))),
      'by count',
    );
    assert.deepEqual(decoded.shed, ['health', 'functions']);
    assert.equal(decoded.summary.health.internalErrors, 1, 'health keeps its error count');
  });

  it('fits a turn with 500 tool stages by keeping every pipeline stage and the first 16 tools', () => {
    const t = turn();
    const tools: TurnStage[] = Array.from({ length: 500 }, (_, i) => ({
      stage: 'function',
      name: `tool_${i}`,
      startAt: t.startedAt + 1100 + i,
      offsetMs: 1100 + i,
      durationMs: 3,
      outcome: 'ok',
    }));
    const bytes = encodeMessage(
      turnMessage({ seq: 1 }, { ...t, stages: [...t.stages, ...tools] }),
    )!;
    assert.ok(bytes.length <= MAX_MESSAGE_BYTES, `${bytes.length} bytes`);
    const decoded = decodeMessage(bytes);
    assert.ok(decoded?.type === 'turn');
    assert.deepEqual(decoded.shed, ['turn.stages']);
    const kinds = decoded.turn.stages.map((s) => s.stage);
    assert.equal(kinds.filter((k) => k === 'function').length, 16);
    assert.deepEqual(
      kinds.filter((k) => k !== 'function'),
      ['stt', 'end_of_turn', 'llm', 'tts'],
    );
  });

  it('cuts long tool names and room names to 128 characters', () => {
    const t = turn();
    const stages = t.stages.map((s) =>
      s.stage === 'function' ? { ...s, name: 'x'.repeat(5000) } : s,
    );
    const bytes = encodeMessage(
      turnMessage({ seq: 1, room: 'r'.repeat(20_000) }, { ...t, stages }),
    )!;
    const decoded = decodeMessage(bytes);
    assert.ok(decoded?.type === 'turn');
    const name = decoded.turn.stages.find((s) => s.stage === 'function')!.name!;
    assert.equal(name.length, MAX_STRING_LENGTH);
    assert.ok(name.endsWith('…'));
    assert.equal(decoded.room.length, MAX_STRING_LENGTH);
    assert.ok(decoded.shed?.includes('room'));
  });

  it('cuts an overlong room name before any metric, in every message type', () => {
    const room = 'r'.repeat(20_000);
    for (const message of [
      summaryMessage({ seq: 1, room }),
      turnMessage({ seq: 2, room }),
      alertMessage({ seq: 3, room }, 'raised'),
    ]) {
      const decoded = decodeMessage(encodeMessage(message)!);
      assert.ok(decoded, message.type);
      assert.deepEqual(decoded.shed, ['room'], message.type);
      assert.equal(decoded.room.length, MAX_STRING_LENGTH);
      const expected = {
        ...JSON.parse(JSON.stringify(message)),
        room: decoded.room,
        shed: ['room'],
      };
      assert.deepEqual(plain(decoded), plain(expected), `${message.type}: nothing else was cut`);
    }
  });

  it('gives up (undefined) only when even the leanest form does not fit the limit given', () => {
    assert.equal(encodeMessage(summaryMessage({ seq: 1 }), 200), undefined);
  });
  it('sheds usage entries before the stats, keeping the session cost', () => {
    const entries = Array.from({ length: 64 }, (_, i) => ({
      component: 'llm' as const,
      provider: `p${i}_${'x'.repeat(120)}`,
      model: `m${i}_${'y'.repeat(120)}`,
      amounts: { promptTokens: 1000 + i, completionTokens: 10 },
      cost: 0.001,
    }));
    const message = summaryMessage(
      { seq: 1 },
      summary({ usage: { entries, currency: 'USD', cost: 0.064 } }),
    );
    const bytes = encodeMessage(message);
    assert.ok(bytes && bytes.length <= MAX_MESSAGE_BYTES, `${bytes?.length} bytes`);
    const decoded = decodeMessage(bytes);
    assert.ok(decoded?.type === 'summary');
    assert.deepEqual(decoded.shed, ['usage']);
    assert.equal(decoded.summary.usage.entries.length, 8);
    assert.deepEqual([decoded.summary.usage.currency, decoded.summary.usage.cost], ['USD', 0.064]);
    assert.equal(decoded.summary.stats.ttft.p99, message.summary.stats.ttft.p99);
  });
});
