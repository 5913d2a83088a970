/**
 * The real `@livekit/agents-plugin-elevenlabs` streaming TTS (one WebSocket, one context per
 * reply) in real AgentSessions, against the local ElevenLabs server; the LLM is the real openai
 * plugin against the local OpenAI-compatible server. Each context the server finished is one TTS
 * request, and the plugin's time to first byte is the server's: first text in, first audio out.
 */
import { tts as ttsNs } from '@livekit/agents';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as openai from '@livekit/agents-plugin-openai';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type MetricSample, attachMetrics } from '../../../src/index.js';
import { ElevenLabsServer } from '../../support/providers/elevenlabs-server.js';
import { OpenAICompatibleServer } from '../../support/providers/openai-server.js';
import {
  LoopStall,
  assertNear,
  frameworkReports,
  pluginNumbers,
  pluginUsage,
  serverFirstByteMs,
} from '../../support/providers/plugin-numbers.js';
import { type HarnessSession, startTextSession } from '../../support/session-harness.js';

const API_KEY = 'local-test-key';
const tts_END = ttsNs.SynthesizeStream.END_OF_STREAM;

const stall = new LoopStall();
beforeEach(() => stall.reset());
after(() => stall.stop());

describe('the real ElevenLabs TTS against a local ElevenLabs server', () => {
  let el: ElevenLabsServer;
  let oai: OpenAICompatibleServer;
  const harnesses: HarnessSession[] = [];
  before(async () => {
    [el, oai] = await Promise.all([ElevenLabsServer.start(), OpenAICompatibleServer.start()]);
  });
  after(async () => {
    for (const h of harnesses) await h.close();
    await Promise.all([el.close(), oai.close()]);
  });

  async function start() {
    const tts = new elevenlabs.TTS({
      baseURL: el.baseURL,
      apiKey: API_KEY,
      model: 'eleven_turbo_v2_5',
      encoding: 'pcm_22050',
    });
    // one synthesis before the session exists (no session counts it): the first of a process
    // pays for the WebSocket and the JIT, which is real but not what these tests compare
    const warm = tts.stream();
    warm.pushText('Warm up.');
    warm.endInput();
    for await (const ev of warm) if (ev === tts_END) break;
    el.log.clear();
    const h = await startTextSession({
      llm: new openai.LLM({ baseURL: oai.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' }),
      tts,
    });
    harnesses.push(h);
    const metrics = attachMetrics(h.session);
    const ttfb: number[] = [];
    metrics.on('sample', (s: MetricSample) => {
      if (s.stat === 'tts_latency') ttfb.push(s.value);
    });
    return { h, metrics, ttfb };
  }

  it(
    'counts each reply once, with the time to first audio the server applied',
    { timeout: 60_000 },
    async () => {
      el.log.clear();
      oai.chat.setDefault({
        text: 'Sure, here is a short answer for you.',
        ttftMs: 20,
        tokenIntervalMs: 10,
      });
      const { h, metrics, ttfb } = await start();
      el.contexts.push({ firstByteMs: 120 }, { firstByteMs: 260 }, { firstByteMs: 80 });
      const raw = frameworkReports(h.session, 'tts_metrics');
      for (const input of ['one', 'two', 'three']) await h.send(input);

      const served = el.log.of('tts_context');
      assert.equal(served.length, 3);
      assert.ok(served.every((e) => e.outcome === 'ok'));
      const n = pluginNumbers(metrics, 'tts');
      assert.deepEqual([n.requests, n.errors, n.latency.count], [served.length, 0, served.length]);
      served.forEach((e, i) => assertNear(ttfb[i], serverFirstByteMs(e), `ttfb #${i}`, { stall }));
      // the plugin sends every word with a trailing space, so the provider bills one character
      // more per reply than the framework's charactersCount (the text the agent pushed)
      assert.deepEqual(
        raw.map((m) => (m.charactersCount as number) + 1),
        served.map((e) => e.usage.characters),
      );
      // the plugin's usage is the framework's (one character per reply short of the bill)
      const characters = el.log.billed('characters', 'tts_context');
      assert.deepEqual(pluginUsage(metrics, 'tts', 'ttsCharacters'), {
        session: characters - served.length,
        turns: characters - served.length,
      });
      const audioMs = pluginUsage(metrics, 'tts', 'ttsAudioMs');
      const billedMs = el.log.billed('audioSeconds', 'tts_context') * 1000;
      assert.ok(
        Math.abs(audioMs.session - billedMs) <= served.length,
        `${audioMs.session}/${billedMs}`,
      );
      console.log(
        'elevenlabs usage measured',
        JSON.stringify({ characters, plugin: characters - served.length, audioMs, billedMs }),
      );
      assert.equal(el.log.of('tts_connection').length, 0, 'the warm connection served every reply');
      await metrics.close();
    },
  );

  it('counts an error message for a context as a failed request', { timeout: 60_000 }, async () => {
    oai.chat.setDefault({ text: 'Another answer.', ttftMs: 20 });
    const { h, metrics } = await start();
    el.contexts.push({ firstByteMs: 50 }, { error: 'quota_exceeded', firstByteMs: 30 });
    el.contexts.setDefault({ firstByteMs: 50 });
    for (const input of ['one', 'two', 'three']) await h.send(input).catch(() => {});

    const contexts = el.log.of('tts_context');
    const failed = contexts.filter((e) => e.outcome === 'http_error').length;
    const ok = contexts.filter((e) => e.outcome === 'ok').length;
    assert.equal(failed, 1);
    const n = pluginNumbers(metrics, 'tts');
    assert.equal(n.requests + n.retries, contexts.length);
    assert.equal(n.latency.count, ok);
    await metrics.close();
  });
});
