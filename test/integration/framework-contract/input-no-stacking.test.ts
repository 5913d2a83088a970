/**
 * The input probe never stacks: attach/close on one started session, 200 times, leaves the
 * session's input exactly as it was (the input itself, read directly by the running activity,
 * one input in its stream), with at most one pass-through layer while attached; counted by
 * structure, not by timing. And the agent still hears, answers, and is measured afterwards.
 */
import { initializeLogger } from '@livekit/agents';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TurnTimeline, attachMetrics, createMetricsRuntime } from '../../../src/index.js';
import { activityInput, observedLayers } from '../../../src/framework/index.js';
import { EnergySTT } from '../../support/fake-stt.js';
import { ScriptedLLM } from '../../support/scripted-llm.js';
import { type VoiceHarness, sleep, startVoiceSession } from '../../support/session-harness.js';
import { speak } from '../../support/speech.js';

before(() => initializeLogger({ pretty: false, level: 'silent' }));

const CYCLES = 200;

/** The running activity's input stream: how many inputs it reads. */
function activityInputs(h: VoiceHarness): number {
  const activity = activityInput(h.session);
  assert.equal(typeof activity, 'object', String(activity));
  return (activity as { multi: { inputCount: number } }).multi.inputCount;
}

describe('attach and close, again and again, on one started session', () => {
  const harnesses: VoiceHarness[] = [];
  after(async () => {
    for (const h of harnesses) await h.close();
  });

  it(`leaves at most one layer around the input over ${CYCLES} cycles, and none after close`, async () => {
    const llm = new ScriptedLLM([
      { input: 'hello', content: 'I am fine, thank you.', ttft: 100, duration: 150 },
    ]);
    const stt = new EnergySTT({ sttDelayMs: 100, transcripts: ['hello'] });
    const h = await startVoiceSession({ llm, stt, minEndpointingDelayMs: 300 });
    harnesses.push(h);
    const runtime = createMetricsRuntime({ hub: false });
    await h.input.playSilence(100);
    assert.equal(activityInputs(h), 1);
    for (let i = 0; i < CYCLES; i++) {
      const metrics = attachMetrics(h.session, { runtime });
      assert.equal(
        observedLayers(h.session.input.audio),
        1,
        `cycle ${i}: one layer while attached`,
      );
      assert.equal(
        (h.session.input.audio as unknown as { source: unknown }).source,
        h.input,
        `cycle ${i}: the layer wraps the input itself`,
      );
      // half the cycles let frames flow through the wrapper before it is taken out
      if (i % 2 === 0) await sleep(12);
      await metrics.close();
      assert.equal(h.session.input.audio, h.input, `cycle ${i}: the input's own path is back`);
      assert.deepEqual(metrics.summary().health.disabledFeatures, {}, `cycle ${i}`);
    }
    // each taken-out wrapper's stream ends by itself once its last frames are through
    await sleep(200);
    assert.equal(activityInputs(h), 1, 'the activity reads one input: the input itself');
    assert.equal(h.input.stream.locked, true, 'the activity reads the input directly');

    // the agent still hears and answers, and a new attach still measures the acoustic end
    const metrics = attachMetrics(h.session, { runtime });
    assert.equal(observedLayers(h.session.input.audio), 1);
    const speech = await speak('Hello there how are you today');
    await h.input.playSilence(200);
    const turn = new Promise<TurnTimeline>((resolve) => metrics.on('turn', resolve));
    await h.input.playSpeech(speech);
    const t = await turn;
    assert.ok(t.e2eLatencyMs !== undefined && t.e2eLatencyMs > 0, 'the agent answered');
    assert.ok(
      t.stages.some((s) => s.stage === 'speech_end_lag'),
      'the acoustic end of speech was found',
    );
    const s = metrics.summary();
    assert.equal(s.stats.stt_latency.count, 1);
    assert.equal(s.health.internalErrors, 0);
    await metrics.close();
    assert.equal(h.session.input.audio, h.input);
  });
});
