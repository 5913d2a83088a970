/**
 * Replays event streams recorded from real AgentSessions (test/fixtures/sessions, made by
 * scripts/record-fixtures.ts) through the pure pipeline — normalize → MetricsCore — and checks
 * the derived metrics against what was injected and against the framework's own numbers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { resolveOptions } from '../../src/config.js';
import { normalizeSessionEvent, normalizeSpeechItem } from '../../src/ingest/normalize.js';
import { MetricsCore } from '../../src/metrics-core.js';
import type { TurnTimeline } from '../../src/types.js';

interface Fixture {
  injected: Record<string, any>;
  events: Array<Record<string, any>>;
}

function replay(name: string) {
  const fixture = JSON.parse(
    readFileSync(new URL(`../fixtures/sessions/${name}.json`, import.meta.url), 'utf8'),
  ) as Fixture;
  const turns: TurnTimeline[] = [];
  const core = new MetricsCore(resolveOptions(), { turn: (t) => turns.push(t) });
  const odd = (field: string) => core.countOddField(field);
  for (const ev of fixture.events) {
    if (ev.type === 'speech_item_added') {
      for (const s of normalizeSpeechItem(ev.speechId, ev.item, ev.createdAt, odd)) core.ingest(s);
    } else if (ev.type === 'speech_done') {
      core.ingest({
        kind: 'speech_done',
        at: ev.createdAt,
        speechId: ev.speechId,
        interrupted: ev.interrupted,
      });
    } else {
      for (const s of normalizeSessionEvent(ev, odd)) core.ingest(s);
    }
  }
  const assistantMetrics = fixture.events
    .filter((e) => e.type === 'conversation_item_added' && e.item?.role === 'assistant')
    .map((e) => e.item.metrics as Record<string, number>);
  return { core, turns, injected: fixture.injected, assistantMetrics, summary: core.summary() };
}

const near = (a: number | null | undefined, b: number, tol: number, what: string) =>
  assert.ok(a != null && Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('replaying recorded sessions', () => {
  it('text-plain: TTFT, TTLT and TTS latency per turn match the injected ones', () => {
    const { turns, injected, summary } = replay('text-plain');
    assert.equal(turns.length, 3);
    turns.forEach((turn, i) => {
      const llm = turn.stages.find((s) => s.stage === 'llm')!;
      near(llm.firstOutputMs, injected.llm[i].ttftMs, 10, `ttft ${i}`);
      near(llm.durationMs, injected.llm[i].durationMs, 10, `ttlt ${i}`);
      near(
        turn.stages.find((s) => s.stage === 'tts')!.firstOutputMs,
        injected.tts.ttfbMs[i],
        10,
        `ttfb ${i}`,
      );
      assert.equal(turn.input, 'text');
    });
    assert.equal(summary.components.llm.errorRate, 0);
    assert.equal(summary.stats.e2e_latency.count, 3);
    assert.deepEqual(summary.health.oddFields, {});
  });

  it('text-tool: the tool is timed once and the turn runs the whole way to the answer', () => {
    const { turns, injected, summary } = replay('text-tool');
    assert.equal(turns.length, 1);
    const tool = turns[0]!.stages.find((s) => s.stage === 'function')!;
    assert.equal(tool.name, 'getWeather');
    near(tool.durationMs, injected.tools.getWeather.executionMs, 15, 'tool');
    assert.equal(summary.components.function.requests, 1);
    const minimum =
      injected.llm[0].ttftMs + injected.tools.getWeather.executionMs + injected.llm[1].ttftMs;
    assert.ok(turns[0]!.e2eLatencyMs! >= minimum, `e2e ${turns[0]!.e2eLatencyMs} < ${minimum}`);
  });

  it('text-llm-failure: one failed request out of three, its turn cancelled', () => {
    const { summary } = replay('text-llm-failure');
    assert.deepEqual([summary.components.llm.requests, summary.components.llm.errors], [3, 1]);
    assert.equal(summary.cancelledTurns, 1);
    assert.equal(summary.stats.ttft.count, 2);
  });

  it('tts-failure: a synthesis that failed before any audio counts as a failed request', () => {
    const { summary } = replay('tts-failure');
    assert.deepEqual([summary.components.tts.requests, summary.components.tts.errors], [3, 1]);
    near(summary.components.tts.errorRate, 100 / 3, 1e-9, 'tts error rate');
    assert.equal(summary.cancelledTurns, 1);
  });

  it("voice-plain: e2e and STT latency equal the framework's own, converted to ms", () => {
    const { turns, assistantMetrics, summary } = replay('voice-plain');
    assert.equal(turns.length, 2);
    turns.forEach((turn, i) => {
      assert.equal(turn.input, 'voice');
      near(turn.e2eLatencyMs, assistantMetrics[i]!.e2eLatency! * 1000, 1, `e2e ${i}`);
    });
    assert.equal(summary.stats.stt_latency.count, 2);
    assert.equal(summary.components.stt.requests, 2);
    assert.equal(summary.stats.e2e_latency.count, 2);
  });

  it("voice-plain: eou_delay is the framework's end-of-utterance delay of each turn", () => {
    const fixture = JSON.parse(
      readFileSync(new URL('../fixtures/sessions/voice-plain.json', import.meta.url), 'utf8'),
    ) as Fixture;
    const reported = fixture.events
      .filter((e) => e.type === 'metrics_collected' && e.metrics?.type === 'eou_metrics')
      .map((e) => e.metrics.endOfUtteranceDelayMs as number);
    assert.equal(reported.length, 2);
    const { core, turns } = replay('voice-plain');
    const eou = core.stats('eou_delay');
    assert.equal(eou.count, 2);
    assert.equal(eou.min, Math.min(...reported));
    assert.equal(eou.max, Math.max(...reported));
    turns.forEach((turn, i) => {
      const stage = turn.stages.find((s) => s.stage === 'end_of_turn');
      assert.equal(stage?.durationMs, reported[i], `turn ${i}`);
    });
  });

  it('voice-interrupted: the interrupted turn is counted and what it measured stays in the stats', () => {
    const { turns, summary, assistantMetrics } = replay('voice-interrupted');
    assert.deepEqual(
      turns.map((t) => t.interrupted),
      [true, false],
    );
    assert.equal(summary.interruptedTurns, 1);
    // the caller heard both answers start, the first before barging in
    assert.equal(summary.stats.e2e_latency.count, 2);
    turns.forEach((turn, i) =>
      near(turn.e2eLatencyMs, assistantMetrics[i]!.e2eLatency! * 1000, 1, `e2e ${i}`),
    );
    assert.equal(summary.stats.ttft.count, 2, 'both requests produced their first token');
    assert.equal(summary.components.llm.requests, 2, 'its LLM request still completed');
  });
});
