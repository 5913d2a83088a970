import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordedEvent } from './event-recorder.js';
import { FakeTTS } from './fake-tts.js';
import { ScriptedLLM, toolOutputKey } from './scripted-llm.js';
import { createTestTools, startTextSession } from './session-harness.js';

// see voice-path.test.ts for why timer-driven delays land in [injected - 2, injected + 60]
const BELOW_MS = 2;
const ABOVE_MS = 60;

function inRange(actual: number, lo: number, hi: number, what: string): void {
  assert.ok(actual >= lo && actual <= hi, `${what}: ${actual} not in [${lo}, ${hi}]`);
}

type Metrics = Record<string, unknown> & { type: string };

function metricsOf(events: RecordedEvent[], type: string): Metrics[] {
  return events
    .filter((e) => e.type === 'metrics_collected')
    .map((e) => e.metrics as Metrics)
    .filter((m) => m.type === type);
}

describe('text path through a real AgentSession', () => {
  it('reports injected ttft, ttfb, usage and labels', async () => {
    const llm = new ScriptedLLM(
      [
        {
          input: 'hi',
          content: 'Hello there.',
          ttft: 120,
          duration: 250,
          usage: { completionTokens: 5, promptTokens: 20, promptCachedTokens: 8 },
        },
      ],
      { provider: 'acme', model: 'acme-large' },
    );
    const tts = new FakeTTS({ ttfbMs: 90, provider: 'voicy', model: 'voicy-2' });
    const h = await startTextSession({ llm, tts });
    try {
      await h.send('hi');
    } finally {
      await h.close();
    }
    const [llmM] = metricsOf(h.recorder.events, 'llm_metrics');
    const [ttsM] = metricsOf(h.recorder.events, 'tts_metrics');
    assert.ok(llmM && ttsM);
    inRange(Number(llmM.ttftMs), 120 - BELOW_MS, 120 + ABOVE_MS, 'ttftMs');
    inRange(Number(llmM.durationMs), 250 - BELOW_MS, 250 + ABOVE_MS, 'llm durationMs');
    assert.equal(llmM.completionTokens, 5);
    assert.equal(llmM.promptCachedTokens, 8);
    assert.equal(llmM.totalTokens, 25);
    assert.ok(Number(llmM.tokensPerSecond) > 0);
    assert.deepEqual(llmM.metadata, { modelProvider: 'acme', modelName: 'acme-large' });
    inRange(Number(ttsM.ttfbMs), 90 - BELOW_MS, 90 + ABOVE_MS, 'ttfbMs');
    assert.equal(ttsM.charactersCount, 'Hello there.'.length);
    assert.equal(ttsM.audioDurationMs, 'Hello there.'.length * tts.opts.audioMsPerChar);
    assert.deepEqual(ttsM.metadata, { modelProvider: 'voicy', modelName: 'voicy-2' });
    assert.equal(h.output?.segments[0]?.interrupted, false);
  });

  it('surfaces non-retryable LLM and TTS failures as unrecoverable errors', async () => {
    const llm = new ScriptedLLM([
      { input: 'boom', ttft: 80, fail: { statusCode: 503 } },
      { input: 'speak', content: 'Unspeakable words.', ttft: 50, duration: 80 },
      { input: 'ok', content: 'Fine.', ttft: 50, duration: 80 },
    ]);
    const tts = new FakeTTS({ ttfbMs: 60, fail: (text) => text.includes('Unspeakable') });
    const h = await startTextSession({ llm, tts });
    try {
      for (const input of ['boom', 'speak', 'ok']) await h.send(input);
    } finally {
      await h.close();
    }
    const events = h.recorder.events;
    const errors = events.filter((e) => e.type === 'error');
    const details = errors.map((e) => e.error as { type: string; recoverable: boolean });
    assert.deepEqual(
      details.map((d) => [d.type, d.recoverable]),
      [
        ['llm_error', false],
        ['tts_error', false],
      ],
    );
    const llmMetrics = metricsOf(events, 'llm_metrics');
    assert.equal(llmMetrics[0]?.ttftMs, -1);
    inRange(Number(llmMetrics[0]?.durationMs), 80 - BELOW_MS, 80 + ABOVE_MS, 'failed duration');
    // the failed TTS request never produced a frame, so the framework emits no tts_metrics
    assert.equal(metricsOf(events, 'tts_metrics').length, 1);
    assert.ok(events.some((e) => e.type === 'close'));
  });

  it('reports tool execution with createdAt reset to the execution start', async () => {
    const llm = new ScriptedLLM([
      {
        input: 'weather?',
        ttft: 40,
        duration: 60,
        toolCalls: [{ name: 'getWeather', args: { city: 'Oslo' } }],
      },
      { input: toolOutputKey('snow'), content: 'It snows.', ttft: 40, duration: 60 },
    ]);
    const tools = createTestTools({ weatherDelayMs: 200, weatherResult: 'snow' });
    const h = await startTextSession({ llm, tools });
    try {
      await h.send('weather?');
    } finally {
      await h.close();
    }
    const added = h.recorder.events.filter((e) => e.type === 'speech_item_added');
    const call = added.map((e) => e.item as RecordedEvent).find((i) => i.type === 'function_call');
    const out = added
      .map((e) => e.item as RecordedEvent)
      .find((i) => i.type === 'function_call_output');
    assert.ok(call && out);
    assert.equal(out.output, toolOutputKey('snow'));
    assert.equal(out.isError, false);
    inRange(out.createdAt - call.createdAt, 200 - BELOW_MS, 200 + ABOVE_MS, 'tool execution');
    const executed = h.recorder.events.find((e) => e.type === 'function_tools_executed');
    assert.ok(executed);
    const reply = h.recorder.events
      .filter((e) => e.type === 'conversation_item_added')
      .map((e) => e.item as RecordedEvent)
      .find((i) => i.role === 'assistant');
    assert.equal(reply?.textContent, 'It snows.');
  });
});
