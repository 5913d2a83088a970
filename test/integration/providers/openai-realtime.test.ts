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

/** A price for `gpt-realtime` and a catch-all that would price it very differently. */
const PRICES = {
  currency: 'USD',
  models: [
    {
      component: 'realtime' as const,
      model: 'gpt-realtime',
      inputPerMillionTokens: 4,
      outputPerMillionTokens: 16,
      inputAudioPerMillionTokens: 32,
      outputAudioPerMillionTokens: 64,
    },
    {
      component: 'realtime' as const,
      model: '*',
      inputPerMillionTokens: 1000,
      outputPerMillionTokens: 1000,
      inputAudioPerMillionTokens: 1000,
      outputAudioPerMillionTokens: 1000,
    },
  ],
};

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

/** The turn's acoustic e2e, as the catalog reads it (its speech_end_lag stage → agent audio). */
function metricsAcoustic(turn: TurnTimeline): number | undefined {
  const lag = turn.stages.find((st) => st.stage === 'speech_end_lag');
  return lag && turn.agentStartedSpeakingAt !== undefined
    ? turn.agentStartedSpeakingAt - lag.startAt
    : undefined;
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
    'counts each response once, with its TTFT, the e2e of each spoken turn, and the usage and cost the server billed',
    { timeout: 60_000 },
    async () => {
      server.responses.push(
        // the caller's transcript comes after the answer's first audio, as OpenAI's often does
        {
          text: 'I am fine, thank you for asking.',
          firstAudioMs: 200,
          responseDelayMs: 60,
          userTranscript: 'hello',
          transcriptDelayMs: 450,
        },
        // and before it, later than the end of the speech
        {
          text: 'It is sunny in Paris today.',
          firstAudioMs: 350,
          responseDelayMs: 40,
          userTranscript: 'weather',
          transcriptDelayMs: 100,
        },
      );
      const rt = await startRealtimeSession(server);
      closers.push(rt.close);
      const metrics = attachMetrics(rt.session, { prices: PRICES });
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
      // end to end: the server's end of the user's turn (speech_stopped) → the answer's first
      // audio; the speaker double starts playing the first frame it gets, so that is the first
      // audio sent. Acoustic: the last loud audio the server received → the same first audio.
      assert.equal(turns.length, served.length);
      const slack = 30 + stall.maxMs();
      const e2e = turns.map((turn, i) => {
        const e = served[i]!;
        const server = {
          e2e: e.firstByteAt! - (e.detail.speechStoppedAt as number),
          acoustic: e.firstByteAt! - (e.detail.lastLoudAt as number),
          transcriptAfterAudio: (e.detail.userTranscriptSentAt as number) > e.firstByteAt!,
        };
        const acoustic = metricsAcoustic(turn);
        return { server, plugin: { input: turn.input, e2e: turn.e2eLatencyMs, acoustic } };
      });
      console.log('realtime e2e per turn', JSON.stringify(e2e));
      assert.deepEqual(
        e2e.map((t) => t.server.transcriptAfterAudio),
        [true, false],
      );
      e2e.forEach(({ server, plugin }, i) => {
        assert.equal(plugin.input, 'voice', `turn ${i}`);
        assert.ok(
          Math.abs(plugin.e2e! - server.e2e) <= slack,
          `e2e #${i}: plugin ${plugin.e2e} ms, server ${server.e2e} ms (±${slack})`,
        );
        // the input probe sees the audio in frames; the server in the plugin's chunks
        assert.ok(
          Math.abs(plugin.acoustic! - server.acoustic) <= slack + 100,
          `acoustic e2e #${i}: plugin ${plugin.acoustic} ms, server ${server.acoustic} ms`,
        );
      });
      assert.equal(metrics.stats('e2e_latency').count, served.length);
      assert.equal(metrics.stats('acoustic_e2e_latency').count, served.length);
      // the caller's transcripts are the realtime model's, not an STT's requests
      const stt = pluginNumbers(metrics, 'stt');
      assert.deepEqual([stt.requests, stt.errors, stt.latency.count], [0, 0, 0]);
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
      // filed under the session's model, priced by its own entry, not the catch-all
      const usage = metrics.summary().usage;
      assert.deepEqual(
        usage.entries.map((e) => [e.component, e.provider, e.model]),
        [['realtime', new URL(server.baseURL).host, 'gpt-realtime']],
      );
      const price = PRICES.models[0]!;
      const expectedCost =
        (measured.inputTextTokens! * price.inputPerMillionTokens +
          measured.inputAudioTokens! * price.inputAudioPerMillionTokens +
          measured.outputTextTokens! * price.outputPerMillionTokens +
          measured.outputAudioTokens! * price.outputAudioPerMillionTokens) /
        1e6;
      assert.ok(Math.abs(usage.cost! - expectedCost) < 1e-12, `${usage.cost} vs ${expectedCost}`);
      console.log('realtime cost', usage.cost, usage.currency, JSON.stringify(price));
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
