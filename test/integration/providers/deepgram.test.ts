/**
 * The real `@livekit/agents-plugin-deepgram` streaming STT in a real voice AgentSession (real
 * espeak-ng speech, the bundled VAD), against the local Deepgram server; the LLM and TTS are the
 * real openai plugin against the local OpenAI-compatible server. Ground truth is the servers'
 * logs: each final transcript the Deepgram server sent is one STT request, and the STT latency
 * the plugin reports (final transcript − the VAD's end of speech, the framework's
 * `transcriptionDelay`) is when the server sent that final, measured from the same anchor.
 */
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as openai from '@livekit/agents-plugin-openai';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type TurnTimeline, attachMetrics } from '../../../src/index.js';
import { DeepgramServer } from '../../support/providers/deepgram-server.js';
import { OpenAICompatibleServer } from '../../support/providers/openai-server.js';
import {
  LoopStall,
  assertNear,
  frameworkReports,
  pluginNumbers,
  pluginUsage,
} from '../../support/providers/plugin-numbers.js';
import { type VoiceHarness, startVoiceSession } from '../../support/session-harness.js';
import { type Speech, speak } from '../../support/speech.js';

const API_KEY = 'local-test-key';

const stall = new LoopStall();
beforeEach(() => stall.reset());
after(() => stall.stop());

describe('the real Deepgram STT against a local Deepgram server', () => {
  let dg: DeepgramServer;
  let oai: OpenAICompatibleServer;
  let speeches: Speech[];
  const harnesses: VoiceHarness<deepgram.STT, openai.TTS>[] = [];
  before(async () => {
    [dg, oai, speeches] = await Promise.all([
      DeepgramServer.start(),
      OpenAICompatibleServer.start(),
      Promise.all(
        ['Hello there how are you today', 'What is the weather like in Paris'].map((p) => speak(p)),
      ),
    ]);
    oai.chat.setDefault({ text: 'Okay.', ttftMs: 30 });
    oai.speech.setDefault({ firstByteMs: 40 });
  });
  after(async () => {
    for (const h of harnesses) await h.close();
    await Promise.all([dg.close(), oai.close()]);
  });

  async function start() {
    const h = await startVoiceSession({
      stt: new deepgram.STT({ baseUrl: dg.baseUrl, apiKey: API_KEY, model: 'nova-3' }),
      llm: new openai.LLM({ baseURL: oai.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' }),
      tts: new openai.TTS({ baseURL: oai.baseURL, apiKey: API_KEY }),
      minEndpointingDelayMs: 300,
    });
    harnesses.push(h);
    const metrics = attachMetrics(h.session);
    const turns: TurnTimeline[] = [];
    metrics.on('turn', (t) => turns.push(t));
    return { h, metrics, turns };
  }

  it(
    'counts each final transcript once, with the latency of its delivery',
    { timeout: 60_000 },
    async () => {
      dg.log.clear();
      dg.utterances.push(
        { transcript: 'hello there how are you today', finalDelayMs: 600 },
        { transcript: 'what is the weather like in paris', finalDelayMs: 800 },
      );
      const { h, metrics, turns } = await start();
      const reports = frameworkReports(h.session, 'stt_metrics');
      await h.input.playSilence(300);
      for (const [i, speech] of speeches.entries()) {
        await h.input.playSpeech(speech);
        await h.output.waitForSegmentEnd(i);
        await h.input.playSilence(200);
      }

      const finals = dg.log.withOutcome('ok', 'listen_utterance');
      assert.equal(finals.length, 2);
      // usage: the audio the framework reported (flushed every 5 s and at Finalize), which is at
      // most what the server received (docs/PROVIDERS.md: the framework reports it short)
      const reported = reports.reduce((sum, m) => sum + (m.audioDurationMs as number), 0);
      const received = dg.log.billed('audioSeconds', 'listen') * 1000;
      const audio = pluginUsage(metrics, 'stt', 'sttAudioMs');
      assert.ok(reported > 0);
      assert.equal(audio.session, reported);
      assert.ok(
        audio.session <= received + 1,
        `${audio.session} ms reported, ${received} received`,
      );
      console.log('deepgram usage measured', JSON.stringify({ plugin: audio.session, received }));
      const n = pluginNumbers(metrics, 'stt');
      assert.deepEqual([n.requests, n.errors], [finals.length, 0]);
      assert.equal(n.latency.count, finals.length);
      assert.equal(turns.length, 2);
      turns.forEach((turn, i) => {
        // the framework clamps it at 0 when the final came before the VAD's end
        // (voice/audio_recognition.ts, transcriptionDelay)
        const sentAt = finals[i]!.detail.finalSentAt as number;
        const stt = turn.stages.find((s) => s.stage === 'stt')!;
        assertNear(
          stt.durationMs,
          Math.max(0, sentAt - turn.userStoppedSpeakingAt!),
          `turn ${i} stt`,
          {
            stall,
          },
        );
      });
      await metrics.close();
    },
  );

  it(
    'retries a refused connection (HTTP 429) without reporting it',
    { timeout: 60_000 },
    async () => {
      dg.log.clear();
      dg.connections.push({ refuseStatus: 429 });
      dg.utterances.push({ transcript: 'hello there how are you today', finalDelayMs: 300 });
      const { h, metrics } = await start();
      await h.input.playSilence(300);
      await h.input.playSpeech(speeches[0]!);
      await h.output.waitForSegmentEnd(0);

      const connections = dg.log.of('listen');
      assert.deepEqual(
        connections.map((c) => c.status),
        [429, 101],
      );
      const finals = dg.log.withOutcome('ok', 'listen_utterance');
      assert.equal(finals.length, 1);
      const n = pluginNumbers(metrics, 'stt');
      // the framework retries the stream's connection without an error event: invisible
      assert.deepEqual([n.requests, n.errors, n.retries], [finals.length, 0, 0]);
      await metrics.close();
    },
  );

  it(
    'goes deaf after a dropped WebSocket, and nothing reports it (plugin 1.9)',
    { timeout: 60_000 },
    async () => {
      dg.log.clear();
      dg.connections.push({ dropAtUtterance: 0 });
      dg.utterances.push(
        { transcript: 'this one is lost', finalDelayMs: 300 },
        { transcript: 'what is the weather like in paris', finalDelayMs: 300 },
      );
      const { h, metrics, turns } = await start();
      await h.input.playSilence(300);
      await h.input.playSpeech(speeches[0]!);
      await h.input.playSilence(1500);
      await h.input.playSpeech(speeches[1]!);
      await h.input.playSilence(2500);

      // the plugin's stream never notices the close (deepgram src/stt.ts: its close monitor is a
      // Task passed to Promise.all, which does not await it), so it neither reconnects nor fails
      const connections = dg.log.of('listen');
      assert.deepEqual(
        connections.map((c) => c.outcome),
        ['dropped'],
      );
      assert.equal(dg.log.withOutcome('ok', 'listen_utterance').length, 0);
      const n = pluginNumbers(metrics, 'stt');
      assert.deepEqual([n.requests, n.errors, n.retries], [0, 0, 0]);
      assert.equal(turns.length, 0);
      assert.equal(h.output.segments.length, 0);
      await metrics.close();
    },
  );
});
