/**
 * The real `openai.realtime.RealtimeModel` (speech to speech: no separate STT, LLM or TTS) in a
 * real voice AgentSession fed with espeak-ng speech, against the local Realtime server. The
 * server decides turns (server VAD) and logs each response: the plugin's request count, TTFT
 * (response created → first audio) and the usage the framework reports must match that log.
 */
import { voice } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type MetricSample, type TurnTimeline, attachMetrics } from '../../../src/index.js';
import { RecordingAudioOutput, ScriptedAudioInput } from '../../support/audio-io.js';
import { OpenAIRealtimeServer } from '../../support/providers/openai-realtime-server.js';
import { OpenAICompatibleServer } from '../../support/providers/openai-server.js';
import { startVoiceSession } from '../../support/session-harness.js';
import {
  LoopStall,
  assertNear,
  frameworkReports,
  pluginNumbers,
  pluginUsage,
  serverFirstByteMs,
} from '../../support/providers/plugin-numbers.js';
import { ensureFrameworkLogger } from '../../support/logging.js';
import { type Speech, speak } from '../../support/speech.js';

ensureFrameworkLogger();

async function startRealtimeSession(server: OpenAIRealtimeServer) {
  const session = new voice.AgentSession({
    llm: new openai.realtime.RealtimeModel({
      baseURL: server.baseURL,
      apiKey: 'local-test-key',
      model: 'gpt-realtime',
    }),
    userAwayTimeout: null,
    aecWarmupDuration: null,
  });
  const input = new ScriptedAudioInput();
  const output = new RecordingAudioOutput();
  session.input.audio = input;
  session.output.audio = output;
  await session.start({ agent: new voice.Agent({ instructions: 'You are a test agent.' }) });
  input.start();
  return {
    session,
    input,
    output,
    close: async () => {
      try {
        await session.close();
      } finally {
        await input.close();
        output.close();
      }
    },
  };
}

const stall = new LoopStall();
beforeEach(() => stall.reset());
after(() => stall.stop());

describe('the real OpenAI Realtime model against a local Realtime server', () => {
  let server: OpenAIRealtimeServer;
  let speeches: Speech[];
  const closers: Array<() => Promise<void>> = [];
  before(async () => {
    [server, speeches] = await Promise.all([
      OpenAIRealtimeServer.start(),
      Promise.all(
        ['Hello there how are you today', 'What is the weather like in Paris'].map((p) => speak(p)),
      ),
    ]);
  });
  after(async () => {
    for (const close of closers) await close();
    await server.close();
  });

  it(
    'counts each response once, with its TTFT and the usage the server billed',
    { timeout: 60_000 },
    async () => {
      server.responses.push(
        { text: 'I am fine, thank you for asking.', firstAudioMs: 200, userTranscript: 'hello' },
        { text: 'It is sunny in Paris today.', firstAudioMs: 350, userTranscript: 'weather' },
      );
      const rt = await startRealtimeSession(server);
      closers.push(rt.close);
      const metrics = attachMetrics(rt.session);
      const ttft: number[] = [];
      metrics.on('sample', (s: MetricSample) => {
        if (s.stat === 'ttft') ttft.push(s.value);
      });
      const reports = frameworkReports(rt.session, 'realtime_model_metrics');
      const turns: TurnTimeline[] = [];
      metrics.on('turn', (t) => turns.push(t));
      await rt.input.playSilence(300);
      for (const [i, speech] of speeches.entries()) {
        await rt.input.playSpeech(speech);
        await rt.output.waitForSegmentEnd(i);
        await rt.input.playSilence(300);
      }

      const served = server.log.withOutcome('ok', 'response');
      assert.equal(served.length, 2);
      const n = pluginNumbers(metrics, 'llm');
      assert.deepEqual([n.requests, n.errors, n.latency.count], [served.length, 0, served.length]);
      // the plugin starts its TTFT clock when it receives response.created, so a client busy with
      // the VAD when that event lands measures a little less than the server applied
      const pairs = `plugin ${ttft.join(',')} server ${served.map(serverFirstByteMs).join(',')}`;
      served.forEach((e, i) =>
        assertNear(ttft[i], serverFirstByteMs(e), `ttft #${i} (${pairs})`, {
          below: 25,
          stall,
          stallBelow: true,
        }),
      );
      // end to end: the server's end of the user's turn → the agent's audio playing; the
      // speaker double starts playing the first frame it gets, so that is the first audio sent
      assert.equal(turns.length, served.length);
      turns.forEach((turn, i) => {
        const e = served[i]!;
        const expected = e.firstByteAt! - (e.detail.speechStoppedAt as number);
        assertNear(turn.e2eLatencyMs, expected, `e2e #${i}`, {
          below: 25,
          stall,
          stallBelow: true,
        });
      });
      assert.deepEqual(
        reports.map((m) => {
          const input = m.inputTokenDetails as Record<string, number>;
          const output = m.outputTokenDetails as Record<string, number>;
          return [
            input.textTokens,
            input.audioTokens,
            input.cachedTokens,
            output.textTokens,
            output.audioTokens,
          ];
        }),
        served.map((e) => [
          e.usage.inputTextTokens,
          e.usage.inputAudioTokens,
          e.usage.inputCachedTokens,
          e.usage.outputTextTokens,
          e.usage.outputAudioTokens,
        ]),
      );
      // the plugin's realtime usage, for the session and over its turns, is what was billed
      const measured: Record<string, number> = {};
      for (const field of [
        'inputTextTokens',
        'inputAudioTokens',
        'inputCachedTokens',
        'outputTextTokens',
        'outputAudioTokens',
      ] as const) {
        const billed = served.reduce((sum, e) => sum + (e.usage[field] ?? 0), 0);
        const plugin = pluginUsage(metrics, 'realtime', field);
        assert.deepEqual(plugin, { session: billed, turns: billed }, field);
        measured[field] = billed;
      }
      console.log('realtime usage measured', JSON.stringify(measured));
      await metrics.close();
    },
  );

  it(
    'counts a failed response as a failed request, not a success and a retry',
    { timeout: 60_000 },
    async () => {
      const before = server.log.of('response').length;
      server.responses.push(
        { failWith: 'server_error', firstAudioMs: 100 },
        { text: 'It is sunny in Paris today.', firstAudioMs: 150 },
      );
      const rt = await startRealtimeSession(server);
      closers.push(rt.close);
      const metrics = attachMetrics(rt.session);
      await rt.input.playSilence(300);
      await rt.input.playSpeech(speeches[0]!);
      await rt.input.playSilence(1500);
      await rt.input.playSpeech(speeches[1]!);
      await rt.output.waitForSegmentEnd(0);
      // the answered turn ends (and releases its samples) once its speech is done
      await rt.input.playSilence(300);

      const served = server.log.of('response').slice(before);
      assert.deepEqual(
        served.map((e) => e.detail.status),
        ['failed', 'completed'],
      );
      const n = pluginNumbers(metrics, 'llm');
      // the plugin reports the failed response's metrics, then a "recoverable" error: the
      // response is over either way, and nothing retries it
      assert.deepEqual([n.requests, n.errors, n.retries], [2, 1, 0]);
      assert.equal(n.latency.count, 1);
      await metrics.close();
    },
  );

  it(
    'counts each realtime transcription once, with the latency of its delivery',
    { timeout: 60_000 },
    async () => {
      const oai = await OpenAICompatibleServer.start();
      closers.push(() => oai.close());
      oai.chat.setDefault({ text: 'Okay.', ttftMs: 30 });
      oai.speech.setDefault({ firstByteMs: 40 });
      const before = server.log.of('transcription_item').length;
      server.transcriptions.push(
        { transcript: 'hello there how are you today', latencyMs: 400 },
        { transcript: 'what is the weather like in paris', latencyMs: 600 },
      );
      const h = await startVoiceSession({
        stt: new openai.STT({
          baseURL: server.baseURL,
          apiKey: 'local-test-key',
          model: 'gpt-4o-transcribe',
          useRealtime: true,
        }),
        llm: new openai.LLM({
          baseURL: oai.baseURL,
          apiKey: 'local-test-key',
          model: 'gpt-4o-mini',
        }),
        tts: new openai.TTS({ baseURL: oai.baseURL, apiKey: 'local-test-key' }),
        minEndpointingDelayMs: 300,
      });
      closers.push(h.close);
      const metrics = attachMetrics(h.session);
      const turns: TurnTimeline[] = [];
      metrics.on('turn', (t) => turns.push(t));
      const usage = frameworkReports(h.session, 'stt_metrics');
      await h.input.playSilence(300);
      for (const [i, speech] of speeches.entries()) {
        await h.input.playSpeech(speech);
        await h.output.waitForSegmentEnd(i);
        await h.input.playSilence(200);
      }

      const items = server.log.withOutcome('ok', 'transcription_item').slice(before);
      assert.equal(items.length, 2);
      const n = pluginNumbers(metrics, 'stt');
      assert.deepEqual([n.requests, n.errors], [items.length, 0]);
      assert.equal(turns.length, items.length);
      turns.forEach((turn, i) => {
        // the framework clamps it at 0 when the final came before the VAD's end
        // (voice/audio_recognition.ts, transcriptionDelay)
        const sentAt = items[i]!.detail.completedSentAt as number;
        const stt = turn.stages.find((st) => st.stage === 'stt')!;
        assertNear(
          stt.durationMs,
          Math.max(0, sentAt - turn.userStoppedSpeakingAt!),
          `turn ${i} stt`,
          {
            stall,
          },
        );
      });
      // usage reports (not requests): the tokens the server billed for each item
      assert.deepEqual(
        usage.map((m) => [m.streamed, m.inputTokens, m.outputTokens]),
        items.map((e) => [true, e.usage.promptTokens, e.usage.completionTokens]),
      );
      await metrics.close();
    },
  );
});
