import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeSessionEvent, normalizeSpeechItem } from '../../../src/ingest/normalize.js';

function run(event: unknown) {
  const odd: string[] = [];
  const signals = normalizeSessionEvent(event, (f) => odd.push(f));
  return { signals, odd };
}

describe('normalizeSessionEvent', () => {
  it('converts ChatMessage.metrics from seconds to milliseconds', () => {
    const { signals } = run({
      type: 'conversation_item_added',
      createdAt: 10,
      item: {
        type: 'message',
        role: 'user',
        createdAt: 9,
        metrics: { stoppedSpeakingAt: 1.5, transcriptionDelay: 0.25, endOfTurnDelay: 0.5 },
      },
    });
    assert.deepEqual(signals, [
      {
        kind: 'user_message',
        at: 10,
        createdAt: 9,
        stoppedSpeakingAt: 1500,
        transcriptionDelayMs: 250,
        endOfTurnDelayMs: 500,
      },
    ]);
  });

  it('keeps AgentMetrics milliseconds as they are and reads provider and model', () => {
    const { signals } = run({
      type: 'metrics_collected',
      createdAt: 5,
      metrics: {
        type: 'llm_metrics',
        timestamp: 1000,
        durationMs: 400,
        ttftMs: 120,
        cancelled: false,
        completionTokens: 40,
        tokensPerSecond: 100,
        speechId: 's1',
        label: 'x',
        metadata: { modelProvider: 'openai', modelName: 'gpt-4o' },
      },
    });
    assert.deepEqual(signals, [
      {
        kind: 'llm_request',
        at: 1000,
        speechId: 's1',
        startedAt: 600,
        ttftMs: 120,
        durationMs: 400,
        cancelled: false,
        completionTokens: 40,
        tokensPerSec: 100,
        usage: { component: 'llm', amounts: { completionTokens: 40 } },
        provider: 'openai',
        model: 'gpt-4o',
      },
    ]);
  });

  it("reads the framework's -1 as 'no first token' and falls back to the label as provider", () => {
    const { signals } = run({
      type: 'metrics_collected',
      metrics: {
        type: 'tts_metrics',
        timestamp: 50,
        durationMs: 10,
        ttfbMs: -1,
        label: 'fake-tts',
        metadata: { modelProvider: 'unknown' },
      },
    });
    assert.equal((signals[0] as { ttfbMs?: number }).ttfbMs, undefined);
    assert.equal((signals[0] as { provider: string }).provider, 'fake-tts');
  });

  it('tolerates and counts odd fields instead of throwing', () => {
    const { signals, odd } = run({
      type: 'metrics_collected',
      createdAt: 1,
      metrics: { type: 'llm_metrics', timestamp: 'soon', durationMs: 'long', ttftMs: null },
    });
    assert.deepEqual(signals, []);
    assert.ok(odd.includes('llm_metrics.timestamp'));
    assert.ok(odd.includes('llm_metrics.durationMs'));
    for (const garbage of [
      null,
      42,
      'x',
      {},
      { type: 'metrics_collected' },
      { type: 'error', error: 5 },
    ]) {
      assert.doesNotThrow(() => run(garbage));
    }
  });

  it('maps error types to components, realtime models to llm', () => {
    const component = (type: string) =>
      (
        run({ type: 'error', createdAt: 1, error: { type, recoverable: false } }).signals[0] as
          { component?: string } | undefined
      )?.component;
    assert.equal(component('stt_error'), 'stt');
    assert.equal(component('llm_error'), 'llm');
    assert.equal(component('realtime_model_error'), 'llm');
    assert.equal(component('tts_error'), 'tts');
    assert.equal(component('interruption_detection_error'), undefined);
  });

  it('skips end-of-utterance metrics without a detected end of speech', () => {
    assert.deepEqual(
      run({
        type: 'metrics_collected',
        metrics: { type: 'eou_metrics', timestamp: 1, lastSpeakingTimeMs: 0 },
      }).signals,
      [],
    );
  });

  it('turns function_tools_executed into one finished tool per call', () => {
    const { signals } = run({
      type: 'function_tools_executed',
      createdAt: 400,
      functionCalls: [{ callId: 'c1', name: 'getWeather', createdAt: 100 }],
      functionCallOutputs: [{ callId: 'c1', isError: true, createdAt: 350 }],
    });
    assert.deepEqual(signals, [
      {
        kind: 'tool_finished',
        at: 350,
        callId: 'c1',
        name: 'getWeather',
        startedAt: 100,
        isError: true,
      },
    ]);
  });
});

describe('normalizeSpeechItem', () => {
  it('reads a tool start from a function call and its end from the output', () => {
    const odd = () => {};
    assert.equal(
      normalizeSpeechItem(
        's1',
        { type: 'function_call', callId: 'c', name: 'n', createdAt: 7 },
        9,
        odd,
      )[0]!.kind,
      'tool_started',
    );
    assert.equal(
      normalizeSpeechItem(
        's1',
        { type: 'function_call_output', callId: 'c', createdAt: 8, isError: false },
        9,
        odd,
      )[0]!.kind,
      'tool_finished',
    );
    assert.deepEqual(normalizeSpeechItem('s1', { type: 'message' }, 9, odd), []);
  });
});
