/**
 * Do no harm, by construction: on a real AgentSession whose internals are not the shape the
 * plugin verified (a field missing or of another type, a framework call that throws), the
 * plugin changes nothing, the agent still hears and answers, and the features that rest on
 * those internals show as off in summary().health and on /metrics.
 */
import { initializeLogger } from '@livekit/agents';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type MetricsServer,
  type SessionMetrics,
  type TurnTimeline,
  attachMetrics,
  createMetricsRuntime,
  startMetricsServer,
} from '../../../src/index.js';
import { observedLayers } from '../../../src/framework/index.js';
import { EnergySTT } from '../../support/fake-stt.js';
import { ScriptedLLM } from '../../support/scripted-llm.js';
import { type VoiceHarness, startVoiceSession } from '../../support/session-harness.js';
import { speak } from '../../support/speech.js';
import { nextTurn, shadow } from '../../support/metrics-helpers.js';

before(() => initializeLogger({ pretty: false, level: 'silent' }));

/** A session that answers "hello"; the caller's speech is played by the test. */
async function helloSession(): Promise<VoiceHarness> {
  const llm = new ScriptedLLM([
    { input: 'hello', content: 'I am fine, thank you.', ttft: 100, duration: 150 },
  ]);
  const stt = new EnergySTT({ sttDelayMs: 100, transcripts: ['hello'] });
  return startVoiceSession({ llm, stt, minEndpointingDelayMs: 300 });
}

/** Plays the caller's speech and returns the turn the agent answered. */
async function saysHello(h: VoiceHarness, metrics: SessionMetrics): Promise<TurnTimeline> {
  const speech = await speak('Hello there how are you today');
  await h.input.playSilence(200);
  const turn = nextTurn(metrics);
  await h.input.playSpeech(speech);
  const t = await turn;
  await h.input.playSilence(200);
  return t;
}

const disabledCount = (text: string, feature: string) =>
  text.match(
    new RegExp(
      `^lk_agents_plugin_features_disabled_total\\{[^}]*feature="${feature}"[^}]*\\} (\\d+)$`,
      'm',
    ),
  )?.[1];

describe('a session whose internals are not the shape the plugin verified', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });
  const serve = async () => {
    const runtime = createMetricsRuntime({ hub: false });
    const server: MetricsServer = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      hub: false,
      runtime,
    });
    cleanup.push(() => server.close());
    return { runtime, server };
  };

  it('still hears and answers when the activity and the output are of another type, and shows both features off', async () => {
    const { runtime, server } = await serve();
    const h = await helloSession();
    cleanup.push(() => h.close());
    await h.input.playSilence(200);
    const sink = h.session.output.audio!;
    let metrics!: SessionMetrics;
    // the running activity is a number; output.audio a plain value, not a getter and setter
    shadow(h.session, '_activity', { get: () => 42 }, () =>
      shadow(h.session.output, 'audio', { value: sink, writable: true }, () => {
        metrics = attachMetrics(h.session, { runtime, labels: { agent_name: 'odd' } });
      }),
    );
    cleanup.push(() => metrics.close());
    // nothing was put in the input's path
    assert.equal(h.session.input.audio, h.input);
    assert.equal(observedLayers(h.session.input.audio), 0);
    const turn = await saysHello(h, metrics);
    assert.equal(turn.input, 'voice');
    assert.ok(turn.e2eLatencyMs !== undefined && turn.e2eLatencyMs > 0, 'the agent answered');
    assert.ok(h.output.segments.length >= 1, 'its answer was played');
    const s = metrics.summary();
    assert.equal(s.stats.stt_latency.count, 1, 'the agent heard the caller');
    assert.equal(s.stats.acoustic_e2e_latency.count, 0, 'the acoustic end of speech is off');
    assert.deepEqual(Object.keys(s.health.disabledFeatures).sort(), [
      'acoustic_speech_end',
      'audible_output',
    ]);
    assert.match(s.health.disabledFeatures.acoustic_speech_end!, /activity is number/);
    assert.match(s.health.disabledFeatures.audible_output!, /not a getter and setter/);
    assert.equal(s.health.internalErrors, 0, 'an unknown shape is not an error');
    const text = await (await fetch(server.url)).text();
    assert.equal(disabledCount(text, 'acoustic_speech_end'), '1');
    assert.equal(disabledCount(text, 'audible_output'), '1');
    assert.equal(disabledCount(text, 'live_tool_calls'), undefined);
  });

  it('still hears and answers when the activity refuses the wrapper (it throws), and shows the feature off', async () => {
    const { runtime, server } = await serve();
    const h = await helloSession();
    cleanup.push(() => h.close());
    await h.input.playSilence(200);
    const activity = (h.session as unknown as { _activity: { audioStream: object } })._activity;
    let metrics!: SessionMetrics;
    const refuse = () => {
      throw new Error('MultiInputStream is closed');
    };
    shadow(activity.audioStream, 'addInputStream', { value: refuse }, () => {
      metrics = attachMetrics(h.session, { runtime, labels: { agent_name: 'refused' } });
    });
    cleanup.push(() => metrics.close());
    assert.equal(h.session.input.audio, h.input, 'the input was given back');
    const turn = await saysHello(h, metrics);
    assert.ok(turn.e2eLatencyMs !== undefined && turn.e2eLatencyMs > 0, 'the agent answered');
    const s = metrics.summary();
    assert.equal(s.stats.stt_latency.count, 1, 'the agent heard the caller');
    assert.deepEqual(Object.keys(s.health.disabledFeatures), ['acoustic_speech_end']);
    assert.equal(s.health.containedErrors['framework:threw'], 1);
    const text = await (await fetch(server.url)).text();
    assert.equal(disabledCount(text, 'acoustic_speech_end'), '1');
  });
});
