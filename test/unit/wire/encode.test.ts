import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage } from '../../../src/wire/decode.js';
import { MAX_STRING_LENGTH, encodeChecked, encodeMessage } from '../../../src/wire/encode.js';
import { MAX_MESSAGE_BYTES } from '../../../src/wire/messages.js';
import { MAX_LIST, MAX_STRING, emptyStats } from '../../../src/wire/schema.js';
import type { TurnStage } from '../../../src/types.js';
import {
  activeAlert,
  alertMessage,
  stats,
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
    Array.from({ length: 50 }, (_, i) => [`label_${i}`, 'v'.repeat(2000)]),
  );
  const alerts = Array.from({ length: 8 }, (_, i) => activeAlert({ at: i }));
  const health = {
    oddFields: { 'llm_metrics.ttftMs': 3 },
    internalErrors: 1,
    containedErrors: {},
    disabledFeatures: {},
    droppedSamples: { negative: 2 },
    droppedMessages: {},
  };
  return summary({ labels, alerts, health, functions: byName });
}

/** Decoded records have no prototype; compare their JSON. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('encodeMessage', () => {
  it('sends a message that fits as its JSON (in the schema key order), with nothing shed', () => {
    for (const message of [
      summaryMessage({ seq: 1 }),
      turnMessage({ seq: 2 }),
      alertMessage({ seq: 3 }, 'raised'),
    ]) {
      assert.deepEqual(JSON.parse(text(encodeMessage(message))), plain(message));
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
      Array.from({ length: 30 }, (_, i) => [`l${i}`, 'v'.repeat(1000)]),
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

  /** The fixture's turn with 500 more tool stages before its TTS. */
  function manyTools(name: (i: number) => string) {
    const t = turn();
    const tools: TurnStage[] = Array.from({ length: 500 }, (_, i) => ({
      stage: 'function',
      name: name(i),
      startAt: t.startedAt + 1100 + i,
      offsetMs: 1100 + i,
      durationMs: 3,
      outcome: 'ok',
    }));
    const tts = t.stages.filter((s) => s.stage === 'tts');
    const before = t.stages.filter((s) => s.stage !== 'tts');
    return turnMessage({ seq: 1 }, { ...t, stages: [...before, ...tools, ...tts] });
  }

  it('keeps every pipeline stage of a turn with 500 tools, and as many tools as a receiver keeps', () => {
    const bytes = encodeMessage(manyTools((i) => `tool_${i}`))!;
    assert.ok(bytes.length <= MAX_MESSAGE_BYTES, `${bytes.length} bytes`);
    const decoded = decodeMessage(bytes);
    assert.ok(decoded?.type === 'turn');
    assert.deepEqual(decoded.shed, ['turn.stages']);
    const kinds = decoded.turn.stages.map((s) => s.stage);
    assert.equal(kinds.length, MAX_LIST, 'a receiver keeps 64 stages');
    assert.equal(kinds.filter((k) => k === 'function').length, MAX_LIST - 4);
    assert.deepEqual(
      kinds.filter((k) => k !== 'function'),
      ['stt', 'end_of_turn', 'llm', 'tts'],
      'the TTS after the tools is kept',
    );
  });

  it('fits a turn whose tools do not fit by keeping every pipeline stage and the first 16 tools', () => {
    const maxBytes = 8 * 1024; // 60 tools of 128-character names pass it
    const bytes = encodeMessage(
      manyTools((i) => `${i}_${'t'.repeat(200)}`),
      maxBytes,
    )!;
    assert.ok(bytes.length <= maxBytes, `${bytes.length} bytes`);
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

  it('cuts tool names to 128 characters, and a room name to the 256 a receiver keeps', () => {
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
    assert.equal(decoded.room.length, MAX_STRING);
    assert.equal(decoded.shed, undefined, 'both are cuts a receiver makes: nothing shed');
  });

  it('cuts an overlong room name before any metric, in every message type', () => {
    const room = 'r'.repeat(20_000);
    for (const message of [
      summaryMessage({ seq: 1, room }),
      turnMessage({ seq: 2, room }),
      alertMessage({ seq: 3, room }, 'raised'),
    ]) {
      // a limit that the room name cut to 128 characters meets, and the 256 a receiver keeps not
      const maxBytes = encodeMessage(message)!.length - 100;
      const decoded = decodeMessage(encodeMessage(message, maxBytes)!);
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

describe("encodeMessage applies the receiver's schema", () => {
  /** A provider reporting in the wrong unit: a TTFT in ns, 1.2M tokens/s, a cost of 5.4e16. */
  function wrongUnits() {
    const s = summary({
      usage: {
        entries: [
          {
            component: 'llm',
            provider: 'openai',
            model: 'gpt-4o',
            amounts: { promptTokens: 5.4e16, completionTokens: 40 },
            cost: 5.4e16,
          },
        ],
        currency: 'USD',
        cost: 5.4e16,
      },
    });
    s.stats.ttft = stats(3.5e8, 3.5e8);
    s.stats.tokens_per_sec = stats(1.2e6, 71);
    return summaryMessage({ seq: 1 }, s);
  }

  it("sends a summary with values out of the viewers' range as one they can read", () => {
    const message = wrongUnits();
    const adjusted: string[] = [];
    const bytes = encodeChecked(message, {
      adjusted: (kind, action) => adjusted.push(`${kind}:${action}`),
    });
    assert.ok(bytes instanceof Uint8Array);
    const decoded = decodeMessage(bytes);
    assert.ok(decoded?.type === 'summary', 'the overlay and watch read it');
    const { stats, usage } = decoded.summary;
    // a measurement out of range is dropped where it may be null: it would read as a real one
    assert.deepEqual([stats.ttft.p50, stats.ttft.p90, stats.ttft.avg], [null, null, null]);
    assert.equal(stats.ttft.min, null);
    assert.equal(stats.ttft.count, 12, 'the count is kept');
    assert.equal(stats.tokens_per_sec.p50, null);
    assert.equal(stats.tokens_per_sec.p90, 71, 'values in range are kept');
    // an amount past 2^53 - 1 (a cost, a token count) is dropped: it is absent
    assert.equal(usage.cost, undefined);
    assert.equal(usage.entries[0]!.cost, undefined);
    assert.deepEqual(plain(usage.entries[0]!.amounts), { completionTokens: 40 });
    assert.equal(usage.currency, 'USD');
    assert.deepEqual(
      plain(decoded.summary.stats.e2e_latency),
      plain(message.summary.stats.e2e_latency),
    );
    assert.ok(
      adjusted.length > 0 && adjusted.every((a) => a.endsWith(':dropped')),
      adjusted.join(),
    );
    assert.equal(adjusted.filter((a) => a === 'amount:dropped').length, 3, 'each is counted');
    assert.ok(adjusted.includes('duration:dropped') && adjusted.includes('rate:dropped'));
  });

  it('clamps a count past 2^53 - 1 and a required duration past a day, and counts each', () => {
    const t = turn();
    const stages = t.stages.map((s) => (s.stage === 'llm' ? { ...s, durationMs: 3.5e11 } : s));
    const adjusted: string[] = [];
    const report = (kind: string, action: string) => adjusted.push(`${kind}:${action}`);
    const turnBytes = encodeChecked(turnMessage({ seq: 1 }, { ...t, stages }), {
      adjusted: report,
    });
    const decodedTurn = decodeMessage(turnBytes as Uint8Array);
    assert.ok(decodedTurn?.type === 'turn');
    assert.equal(decodedTurn.turn.stages.find((s) => s.stage === 'llm')!.durationMs, 86_400_000);
    const big = summaryMessage({ seq: 2 }, summary({ turns: 2 ** 60, interruptedTurns: 2.5 }));
    const decoded = decodeMessage(encodeChecked(big, { adjusted: report }) as Uint8Array);
    assert.ok(decoded?.type === 'summary');
    assert.equal(decoded.summary.turns, Number.MAX_SAFE_INTEGER);
    assert.equal(decoded.summary.interruptedTurns, 2, 'a fraction of a count is rounded down');
    assert.deepEqual(adjusted, ['duration:clamped', 'count:clamped', 'count:clamped']);
  });

  it('drops a non-finite value with what holds it, and a message nothing can hold as invalid', () => {
    const adjusted: string[] = [];
    const report = (kind: string, action: string) => adjusted.push(`${kind}:${action}`);
    const s = summary();
    s.stats.ttft = { ...s.stats.ttft, count: Number.NaN };
    s.stats.ttlt = { ...s.stats.ttlt, p90: Number.POSITIVE_INFINITY };
    const decoded = decodeMessage(
      encodeChecked(summaryMessage({ seq: 1 }, s), { adjusted: report }) as Uint8Array,
    );
    assert.ok(decoded?.type === 'summary');
    assert.deepEqual(plain(decoded.summary.stats.ttft), plain(emptyStats()), 'read as no samples');
    assert.equal(decoded.summary.stats.ttlt.p90, null);
    assert.deepEqual(adjusted, ['count:dropped', 'duration:dropped']);
    // `turns` is required and NaN has no nearest value: nothing of the summary can be sent
    const hopeless = summaryMessage({ seq: 2 }, summary({ turns: Number.NaN }));
    assert.equal(encodeChecked(hopeless), 'invalid');
    assert.equal(encodeMessage(hopeless), undefined);
    assert.equal(encodeChecked(summaryMessage({ seq: 3 }), { maxBytes: 200 }), 'too_large');
  });
});
