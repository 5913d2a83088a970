import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveOptions } from '../../src/config.js';
import type { Signal } from '../../src/ingest/signals.js';
import { MetricsCore } from '../../src/metrics-core.js';

const P = { provider: 'fake', model: 'm' };

/** One complete voice turn with a tool, as signals, starting at `t`. */
function turnSignals(i: number, t: number): Signal[] {
  const id = `speech_${i}`;
  return [
    { kind: 'speech_created', at: t, speechId: id, source: 'generate_reply' },
    {
      kind: 'end_of_turn',
      at: t + 1,
      speechId: id,
      stoppedSpeakingAt: t - 500,
      transcriptionDelayMs: 200 + (i % 7) * 10,
      endOfTurnDelayMs: 500,
    },
    { kind: 'stt_final_transcript', at: t - 300 },
    {
      kind: 'llm_request',
      at: t + 300,
      speechId: id,
      startedAt: t,
      ttftMs: 100 + (i % 13) * 10,
      durationMs: 300,
      cancelled: false,
      completionTokens: 30,
      tokensPerSec: 100,
      ...P,
    },
    {
      kind: 'tool_started',
      at: t + 310,
      speechId: id,
      callId: `call_${i}`,
      name: `tool_${i % 80}`,
    },
    {
      kind: 'tool_finished',
      at: t + 400,
      speechId: id,
      callId: `call_${i}`,
      name: '',
      isError: i % 10 === 0,
    },
    {
      kind: 'tts_request',
      at: t + 600,
      speechId: id,
      startedAt: t + 450,
      ttfbMs: 80,
      durationMs: 150,
      cancelled: false,
      ...P,
    },
    { kind: 'agent_speaking', at: t + 530 },
    { kind: 'agent_message', at: t + 2000, interrupted: i % 50 === 0, startedSpeakingAt: t + 530 },
    { kind: 'speech_done', at: t + 2001, speechId: id, interrupted: i % 50 === 0 },
  ];
}

describe('MetricsCore', () => {
  it('keeps its memory bounded over 100k turns', () => {
    let now = 1_700_000_000_000;
    const core = new MetricsCore(resolveOptions({ now: () => now, maxTurns: 50 }));
    const feed = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        for (const s of turnSignals(i, now)) core.ingest(s);
        now += 3_000;
      }
    };
    feed(0, 5_000);
    global.gc?.();
    const heapAfterWarmup = process.memoryUsage().heapUsed;
    feed(5_000, 100_000);
    global.gc?.();
    const heapGrowth = process.memoryUsage().heapUsed - heapAfterWarmup;

    const summary = core.summary();
    assert.equal(summary.turns, 100_000);
    assert.equal(summary.interruptedTurns, 2_000);
    assert.equal(core.turns().length, 50, 'recent turns are capped');
    assert.equal(
      summary.stats.e2e_latency.count,
      100_000,
      'interrupted turns keep what was measured before the interruption',
    );
    assert.equal(Object.keys(summary.functions).length, 51, '50 tool names are kept…');
    assert.ok(summary.functions.other!.count > 0, '…and the rest fold into other');
    assert.equal(summary.components.function.requests, 100_000);
    assert.equal(summary.components.function.errorRate, 10);
    // 95k turns × 10 signals retained would be tens of MB; bounded state stays flat.
    assert.ok(heapGrowth < 3_000_000, `heap grew ${heapGrowth} bytes over 95k turns`);
    const internals = core as unknown as {
      tracker: {
        open: Map<unknown, unknown>;
        ended: Map<unknown, unknown>;
        endedCalls: Set<unknown>;
      };
    };
    assert.equal(internals.tracker.open.size, 0);
    assert.ok(internals.tracker.ended.size <= 256);
    assert.ok(internals.tracker.endedCalls.size <= 256);
  });

  it('reports the component with the highest p90 as the bottleneck', () => {
    const core = new MetricsCore(resolveOptions());
    assert.equal(core.bottleneck(), undefined);
    core.ingest({ kind: 'stt_request', at: 1, durationMs: 900, streamed: false, ...P });
    core.ingest({
      kind: 'tts_request',
      at: 1,
      startedAt: 0,
      ttfbMs: 400,
      durationMs: 500,
      cancelled: false,
      ...P,
    });
    assert.equal(core.bottleneck(), 'stt');
    core.ingest({
      kind: 'llm_request',
      at: 2,
      startedAt: 0,
      ttftMs: 1200,
      durationMs: 1500,
      cancelled: false,
      completionTokens: 0,
      tokensPerSec: 0,
      ...P,
    });
    assert.equal(core.bottleneck(), 'llm');
    assert.equal(core.summary().bottleneck, 'llm');
  });

  it('drops impossible samples and counts them', () => {
    const core = new MetricsCore(resolveOptions());
    core.ingest({ kind: 'stt_request', at: 1, durationMs: 300, streamed: false, ...P });
    core.ingest({
      kind: 'tool_finished',
      at: 100,
      callId: 'c',
      name: 'f',
      startedAt: 50,
      isError: false,
    });
    core.ingest({ kind: 'speech_created', at: 0, speechId: 's', source: 'say' });
    core.ingest({ kind: 'agent_speaking', at: 1 });
    core.ingest({
      kind: 'llm_request',
      at: 5,
      speechId: 's',
      startedAt: 0,
      ttftMs: Number.NaN,
      durationMs: 5,
      cancelled: false,
      completionTokens: 0,
      tokensPerSec: 0,
      ...P,
    });
    core.ingest({ kind: 'speech_done', at: 6, speechId: 's', interrupted: false });
    assert.deepEqual(core.summary().health.droppedSamples, { 'ttft:not_finite': 1 });
    assert.equal(core.stats('ttft').count, 0);
  });
});
