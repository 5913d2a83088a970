/**
 * The real `@livekit/agents-plugin-openai` (LLM, TTS, STT) in real AgentSessions, against the
 * local OpenAI-compatible server. The server's request log is the ground truth: every request
 * the plugin counts is one the server served, and every latency is the one the server applied
 * (−5/+60 ms: loopback, timers and the framework's ms truncation).
 */
import { llm as llmNs, tokenize, tts as ttsNs } from '@livekit/agents';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as openai from '@livekit/agents-plugin-openai';
import { AudioFrame } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { z } from 'zod';
import { type MetricSample, type SessionMetrics, attachMetrics } from '../../../src/index.js';
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
import {
  type HarnessSession,
  startTextSession,
  startVoiceSession,
} from '../../support/session-harness.js';
import { speak } from '../../support/speech.js';

const API_KEY = 'local-test-key';

function samplesOf(metrics: SessionMetrics, stat: MetricSample['stat']): number[] {
  const values: number[] = [];
  metrics.on('sample', (s) => {
    if (s.stat === stat) values.push(s.value);
  });
  return values;
}

/** Each plugin latency matches the server's latency of the same request (requests are serial). */
function assertLatenciesMatch(plugin: number[], server: number[], what: string) {
  const pairs = plugin.map((p, i) => `${p}/${server[i]}`).join(' ');
  assert.equal(plugin.length, server.length, `${what}: plugin/server ${pairs}`);
  server.forEach((s, i) =>
    assertNear(plugin[i], s, `${what} #${i} (plugin/server ${pairs})`, { stall }),
  );
}

/**
 * One request through each provider before the session exists (so no session counts it, and the
 * log is cleared after): the first request of a process pays for a TCP connection and the JIT,
 * which is real but not what these tests compare.
 */
async function warmUp(
  server: OpenAICompatibleServer,
  providers: { llm?: llmNs.LLM; tts?: ttsNs.TTS },
): Promise<void> {
  if (providers.llm) {
    const chatCtx = llmNs.ChatContext.empty();
    chatCtx.addMessage({ role: 'user', content: 'warm up' });
    for await (const _ of providers.llm.chat({ chatCtx })) void _;
  }
  if (providers.tts) await providers.tts.synthesize('Warm up.').collect();
  server.log.clear();
}

const stall = new LoopStall();
/** What was measured, printed for the record (docs/PROVIDERS.md). */
const usageMeasured: Record<string, unknown> = {};
after(() => console.log('usage measured', JSON.stringify(usageMeasured)));
beforeEach(() => stall.reset());
after(() => stall.stop());

describe('the real OpenAI plugin against a local OpenAI-compatible server', () => {
  let server: OpenAICompatibleServer;
  const harnesses: HarnessSession[] = [];
  before(async () => {
    server = await OpenAICompatibleServer.start();
  });
  after(async () => {
    for (const h of harnesses) await h.close();
    await server.close();
  });

  it('counts each streamed chat completion once, with the TTFT and usage the server applied', async () => {
    const llm = new openai.LLM({ baseURL: server.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' });
    await warmUp(server, { llm });
    server.chat.push(
      { text: 'First answer here.', ttftMs: 120, tokenIntervalMs: 15, promptCachedTokens: 8 },
      { text: '', ttftMs: 90, toolCalls: [{ name: 'getWeather', args: { city: 'Paris' } }] },
      { text: 'It is sunny in Paris.', ttftMs: 60, tokenIntervalMs: 10 },
      { text: 'Third answer.', ttftMs: 250, tokenIntervalMs: 20 },
    );
    const h = await startTextSession({
      llm,
      tools: {
        getWeather: llmNs.tool({
          description: 'Weather for a city',
          parameters: z.object({ city: z.string() }),
          execute: async () => 'sunny',
        }),
      },
    });
    harnesses.push(h);
    const metrics = attachMetrics(h.session);
    const ttft = samplesOf(metrics, 'ttft');
    const usage = frameworkReports(h.session, 'llm_metrics');
    for (const input of ['one', 'weather in Paris?', 'three']) await h.send(input);

    const served = server.log.of('chat');
    assert.equal(served.length, 4);
    assert.ok(served.every((e) => e.outcome === 'ok'));
    const n = pluginNumbers(metrics, 'llm');
    assert.deepEqual([n.requests, n.errors, n.retries], [served.length, 0, 0]);
    assertLatenciesMatch(ttft, served.map(serverFirstByteMs), 'ttft');
    // what the framework reports as usage is what the server billed, request by request
    assert.deepEqual(
      usage.map((m) => [m.promptTokens, m.promptCachedTokens, m.completionTokens]),
      served.map((e) => [
        e.usage.promptTokens,
        e.usage.promptCachedTokens,
        e.usage.completionTokens,
      ]),
    );
    // and the plugin's usage, for the session and summed over its turns, is what it billed
    for (const field of ['promptTokens', 'promptCachedTokens', 'completionTokens'] as const) {
      const billed = server.log.billed(field, 'chat');
      assert.ok(billed > 0, field);
      assert.deepEqual(
        pluginUsage(metrics, 'llm', field),
        { session: billed, turns: billed },
        field,
      );
      usageMeasured[field] = billed;
    }
    await metrics.close();
  });

  it('prices the usage with the price table given: per turn, per session', async () => {
    server.log.clear();
    const llm = new openai.LLM({ baseURL: server.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' });
    server.chat.push(
      { text: 'A priced answer.', ttftMs: 20, promptCachedTokens: 4 },
      { text: 'Another priced answer, a little longer.', ttftMs: 20 },
    );
    const h = await startTextSession({ llm });
    harnesses.push(h);
    const prices = {
      currency: 'USD',
      models: [
        {
          component: 'llm' as const,
          model: 'gpt-4o-mini',
          inputPerMillionTokens: 0.15,
          cachedInputPerMillionTokens: 0.075,
          outputPerMillionTokens: 0.6,
        },
      ],
    };
    const metrics = attachMetrics(h.session, { prices });
    for (const input of ['one', 'two']) await h.send(input);

    const prompt = server.log.billed('promptTokens', 'chat');
    const cached = server.log.billed('promptCachedTokens', 'chat');
    const completion = server.log.billed('completionTokens', 'chat');
    const expected = ((prompt - cached) * 0.15 + cached * 0.075 + completion * 0.6) / 1e6;
    const usage = metrics.summary().usage;
    assert.equal(usage.currency, 'USD');
    assert.ok(Math.abs(usage.cost! - expected) < 1e-12, `${usage.cost} vs ${expected}`);
    const turns = metrics.turns();
    assert.equal(turns.length, 2);
    const perTurn = turns.reduce((sum, t) => sum + (t.usage?.cost ?? 0), 0);
    assert.ok(turns.every((t) => (t.usage?.cost ?? 0) > 0));
    assert.ok(Math.abs(perTurn - expected) < 1e-12, `${perTurn} vs ${expected}`);
    await metrics.close();
  });

  it('counts a retried 429 as a retry and a 500 the framework gives up on as an error', async () => {
    server.log.clear();
    server.chat.push(
      { status: 429, ttftMs: 30 },
      { text: 'Recovered.', ttftMs: 80 },
      { status: 500 },
      { status: 500 },
    );
    const h = await startTextSession({
      llm: new openai.LLM({ baseURL: server.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' }),
      sessionOptions: {
        connOptions: { llmConnOptions: { maxRetry: 1, retryIntervalMs: 50, timeoutMs: 5000 } },
      },
    });
    harnesses.push(h);
    const metrics = attachMetrics(h.session);
    await h.send('one');
    await h.send('two').catch(() => {});

    const served = server.log.of('chat');
    assert.deepEqual(
      served.map((e) => e.status),
      [429, 200, 500, 500],
    );
    const n = pluginNumbers(metrics, 'llm');
    // two requests as the framework makes them: one that succeeded on its second attempt, one
    // that failed on both; the first attempts are retries
    assert.deepEqual([n.requests, n.errors, n.retries], [2, 1, 2]);
    assert.equal(n.requests + n.retries, served.length);
    assert.equal(n.latency.count, 1);
    await metrics.close();
  });

  it('reports nothing for a chat stream that stalls mid-answer until it is interrupted', async () => {
    server.log.clear();
    server.chat.push({ text: 'one two three four five', ttftMs: 50, stallAfterTokens: 2 });
    const h = await startTextSession({
      llm: new openai.LLM({ baseURL: server.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' }),
      sessionOptions: {
        connOptions: { llmConnOptions: { maxRetry: 0, retryIntervalMs: 50, timeoutMs: 1000 } },
      },
    });
    harnesses.push(h);
    const metrics = attachMetrics(h.session);
    const run = h.session.run({ userInput: 'one' });
    // well past the request timeout: in 1.9 it bounds the wait for the response headers only
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.deepEqual(
      server.log.of('chat').map((e) => e.outcome),
      ['stalled'],
    );
    let n = pluginNumbers(metrics, 'llm');
    assert.deepEqual([n.requests, n.errors, n.cancelled], [0, 0, 0]);
    await h.session.interrupt();
    await run.wait().catch(() => {});
    n = pluginNumbers(metrics, 'llm');
    assert.deepEqual([n.requests, n.errors, n.cancelled], [0, 0, 1]);
    assert.equal(metrics.summary().interruptedTurns, 1);
    await metrics.close();
  });

  it('counts each speech synthesis once behind the stream adapter (regression: it was twice)', async () => {
    const llm = new openai.LLM({ baseURL: server.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' });
    const tts = new openai.TTS({ baseURL: server.baseURL, apiKey: API_KEY, model: 'tts-1' });
    await warmUp(server, { llm, tts });
    server.chat.push(
      { text: 'Hello there friend.', ttftMs: 20 },
      { text: 'A second short reply.', ttftMs: 20 },
      {
        text: 'This reply has three sentences in it. Each one is its own request. That is how it works.',
        ttftMs: 20,
        // sentences spaced as a streaming LLM spaces them, so each synthesis finds the
        // connection free (parallel ones would add a TCP connect the server cannot see)
        tokenIntervalMs: 30,
      },
      { text: 'Done now.', ttftMs: 20 },
    );
    server.speech.push({ firstByteMs: 150 }, { firstByteMs: 220 }).setDefault({ firstByteMs: 90 });
    const h = await startTextSession({ llm, tts });
    harnesses.push(h);
    const metrics = attachMetrics(h.session);
    const ttfb = samplesOf(metrics, 'tts_latency');
    const raw = frameworkReports(h.session, 'tts_metrics');
    for (const input of ['one', 'two', 'three', 'four']) await h.send(input);

    const served = server.log.of('speech');
    assert.ok(served.length >= 6, `${served.length} syntheses`);
    assert.ok(served.every((e) => e.outcome === 'ok'));
    // the framework reports more than it served: the adapter's segment report on top of each
    // request's own (this is what made the plugin count 8 for 4)
    assert.ok(raw.length > served.length, `${raw.length} reports for ${served.length} requests`);
    const n = pluginNumbers(metrics, 'tts');
    assert.deepEqual([n.requests, n.errors], [served.length, 0]);
    assert.equal(n.latency.count, served.length);
    // the plugin's TTS latency for OpenAI is the whole response (it is not streamed)
    assertLatenciesMatch(ttfb, served.map(serverFirstByteMs), 'tts ttfb');
    const kept = raw.filter((m) => m.streamed === false);
    assert.deepEqual(
      kept.map((m) => m.charactersCount),
      served.map((e) => e.usage.characters),
      'the requests kept carry the characters the server billed',
    );
    // usage from the requests counted once: the characters and audio the server billed (the
    // framework's own session usage counts them twice, docs/PROVIDERS.md)
    const characters = server.log.billed('characters', 'speech');
    assert.deepEqual(pluginUsage(metrics, 'tts', 'ttsCharacters'), {
      session: characters,
      turns: characters,
    });
    const audio = pluginUsage(metrics, 'tts', 'ttsAudioMs');
    const billedAudioMs = server.log.billed('audioSeconds', 'speech') * 1000;
    // The openai plugin (1.9, src/tts.ts ChunkedStream.run) cuts the response into 100 ms
    // frames with an AudioByteStream it never flushes: the last partial frame of each synthesis
    // is neither played nor reported. The audio reported is the billed audio less that tail.
    const playedMs = served.reduce(
      (sum, e) => sum + Math.floor(Math.round(e.usage.audioSeconds! * 1000) / 100) * 100,
      0,
    );
    assert.deepEqual(audio, { session: playedMs, turns: playedMs });
    usageMeasured.tts = { characters, pluginAudioMs: audio.session, billedAudioMs };
    await metrics.close();
  });

  it('counts each synthesis once when the user wraps the TTS in a stream adapter', async () => {
    server.log.clear();
    server.chat.push(
      { text: 'One short reply.', ttftMs: 20 },
      { text: 'Now two sentences in a reply. And this is the second one.', ttftMs: 20 },
    );
    server.speech.setDefault({ firstByteMs: 70 });
    const bare = new openai.TTS({ baseURL: server.baseURL, apiKey: API_KEY });
    const h = await startTextSession({
      llm: new openai.LLM({ baseURL: server.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' }),
      tts: new ttsNs.StreamAdapter(bare, new tokenize.basic.SentenceTokenizer()),
    });
    harnesses.push(h);
    const metrics = attachMetrics(h.session);
    const raw = frameworkReports(h.session, 'tts_metrics');
    for (const input of ['one', 'two']) await h.send(input);

    const served = server.log.of('speech');
    assert.equal(served.length, 3);
    assert.ok(raw.length > served.length, `${raw.length} reports for ${served.length} requests`);
    const n = pluginNumbers(metrics, 'tts');
    assert.deepEqual([n.requests, n.latency.count], [served.length, served.length]);
    await metrics.close();
  });

  it('counts each synthesis once behind a fallback adapter, alone or before a streaming TTS', async () => {
    const el = await ElevenLabsServer.start();
    try {
      for (const withStreaming of [false, true]) {
        server.log.clear();
        server.chat.setDefault({
          text: 'This reply has two sentences in it. And here is the second one.',
          ttftMs: 20,
          tokenIntervalMs: 20,
        });
        server.speech.setDefault({ firstByteMs: 60 });
        const members: ttsNs.TTS[] = [new openai.TTS({ baseURL: server.baseURL, apiKey: API_KEY })];
        if (withStreaming)
          members.push(new elevenlabs.TTS({ baseURL: el.baseURL, apiKey: API_KEY }));
        const h = await startTextSession({
          llm: new openai.LLM({ baseURL: server.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' }),
          tts: new ttsNs.FallbackAdapter({ ttsInstances: members }),
        });
        harnesses.push(h);
        const metrics = attachMetrics(h.session);
        const raw = frameworkReports(h.session, 'tts_metrics');
        for (const input of ['one', 'two']) await h.send(input);

        const served = server.log.of('speech');
        assert.equal(served.length, 4, `${withStreaming}`);
        // the fallback adapter's own streams report every request again
        assert.ok(raw.length >= 2 * served.length, `${raw.length} reports`);
        const n = pluginNumbers(metrics, 'tts');
        assert.deepEqual([n.requests, n.latency.count], [served.length, served.length]);
        await metrics.close();
      }
    } finally {
      await el.close();
    }
  });

  it('counts each transcription behind the VAD once, with the latency the server applied', async () => {
    const llm = new openai.LLM({ baseURL: server.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' });
    const tts = new openai.TTS({ baseURL: server.baseURL, apiKey: API_KEY });
    const stt = new openai.STT({
      baseURL: server.baseURL,
      apiKey: API_KEY,
      model: 'whisper-1',
      useRealtime: false,
    });
    await stt.recognize([new AudioFrame(new Int16Array(1600), 16000, 1, 1600)]);
    await warmUp(server, { llm, tts });
    server.transcription.push(
      { text: 'hello there', latencyMs: 180 },
      { text: 'what is the weather', latencyMs: 260 },
    );
    server.chat.setDefault({ text: 'Okay.', ttftMs: 30 });
    server.speech.setDefault({ firstByteMs: 40 });
    const speeches = await Promise.all(
      ['Hello there how are you today', 'What is the weather like in Paris'].map((p) => speak(p)),
    );
    const h = await startVoiceSession({
      llm,
      stt,
      tts,
      minEndpointingDelayMs: 300,
    });
    harnesses.push(h);
    const metrics = attachMetrics(h.session);
    const sttLatency = samplesOf(metrics, 'stt_latency');
    await h.input.playSilence(300);
    for (const [i, speech] of speeches.entries()) {
      await h.input.playSpeech(speech);
      await h.output.waitForSegmentEnd(i);
      await h.input.playSilence(200);
    }

    const served = server.log.of('transcription');
    assert.equal(served.length, 2);
    const n = pluginNumbers(metrics, 'stt');
    assert.deepEqual([n.requests, n.errors], [served.length, 0]);
    assertLatenciesMatch(
      sttLatency,
      served.map((e) => e.endedAt! - e.startedAt),
      'stt latency',
    );
    assert.equal(pluginNumbers(metrics, 'tts').requests, server.log.of('speech').length);
    // the audio the STT reported transcribing is the audio the server received
    const billedMs = server.log.billed('audioSeconds', 'transcription') * 1000;
    const sttUsage = pluginUsage(metrics, 'stt', 'sttAudioMs');
    assert.ok(billedMs > 0);
    assert.ok(Math.abs(sttUsage.session - billedMs) < 1, `${sttUsage.session} vs ${billedMs}`);
    assert.ok(Math.abs(sttUsage.turns - billedMs) < 1, `${sttUsage.turns} vs ${billedMs}`);
    usageMeasured.stt = { plugin: sttUsage.session, billedMs };
    await metrics.close();
  });
});
