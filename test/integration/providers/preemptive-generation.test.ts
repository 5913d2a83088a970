/**
 * Preemptive generation with the real plugins: the Deepgram STT (local Deepgram server) sends an
 * early final mid-sentence, the framework starts a preemptive LLM request on it (the openai
 * plugin, local OpenAI-compatible server), and discards that generation when the rest of the
 * sentence arrives. Ground truth is the servers' logs: the chat request the client went away
 * from, and the answers the caller heard (one TTS request each).
 */
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as openai from '@livekit/agents-plugin-openai';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TurnTimeline, attachMetrics } from '../../../src/index.js';
import { DeepgramServer } from '../../support/providers/deepgram-server.js';
import { OpenAICompatibleServer } from '../../support/providers/openai-server.js';
import { pluginNumbers } from '../../support/providers/plugin-numbers.js';
import { type VoiceHarness, startVoiceSession } from '../../support/session-harness.js';
import { type Speech, speak } from '../../support/speech.js';

const API_KEY = 'local-test-key';

describe('a discarded preemptive generation with the real Deepgram and OpenAI plugins', () => {
  let dg: DeepgramServer;
  let oai: OpenAICompatibleServer;
  let speeches: Speech[];
  const harnesses: VoiceHarness<deepgram.STT, openai.TTS>[] = [];
  before(async () => {
    [dg, oai, speeches] = await Promise.all([
      DeepgramServer.start(),
      OpenAICompatibleServer.start(),
      Promise.all(
        [
          'Hello there how are you today',
          'What is the weather like in Paris this afternoon',
          'Thank you very much',
        ].map((p) => speak(p)),
      ),
    ]);
  });
  after(async () => {
    for (const h of harnesses) await h.close();
    await Promise.all([dg.close(), oai.close()]);
  });

  it(
    'is neither a turn nor an interruption, and its request is counted as cancelled',
    { timeout: 90_000 },
    async () => {
      dg.utterances.push(
        { transcript: 'hello there how are you today', finalDelayMs: 100 },
        {
          transcript: 'what is the weather like in paris this afternoon',
          finalDelayMs: 100,
          // "what is the weather" is final while the caller is still speaking
          earlyFinal: { words: 4, afterMs: 700 },
        },
        { transcript: 'thank you very much', finalDelayMs: 100 },
      );
      // the preemptive request on the early final is still waiting for its first token when
      // the rest of the sentence discards it
      oai.chat.push(
        { text: 'I am fine, thanks.', ttftMs: 300 },
        { text: 'The weather is what?', ttftMs: 5000 },
        { text: 'It is sunny in Paris.', ttftMs: 300 },
      );
      oai.chat.setDefault({ text: 'You are welcome.', ttftMs: 300 });
      oai.speech.setDefault({ firstByteMs: 40 });
      const h = await startVoiceSession({
        stt: new deepgram.STT({ baseUrl: dg.baseUrl, apiKey: API_KEY, model: 'nova-3' }),
        llm: new openai.LLM({ baseURL: oai.baseURL, apiKey: API_KEY, model: 'gpt-4o-mini' }),
        tts: new openai.TTS({ baseURL: oai.baseURL, apiKey: API_KEY }),
        minEndpointingDelayMs: 600,
        preemptiveGeneration: true,
      });
      harnesses.push(h);
      const metrics = attachMetrics(h.session);
      const turns: TurnTimeline[] = [];
      metrics.on('turn', (t) => turns.push(t));
      await h.input.playSilence(300);
      for (const [i, speech] of speeches.entries()) {
        await h.input.playSpeech(speech);
        await h.output.waitForSegmentEnd(i);
        await h.input.playSilence(300);
      }

      const chats = oai.log.of('chat');
      const answered = oai.log.withOutcome('ok', 'chat');
      const discarded = oai.log.withOutcome('client_closed', 'chat');
      const early = dg.log.of('listen_utterance').filter((e) => e.detail.earlyFinal);
      console.log(
        'preemptive session',
        JSON.stringify({
          earlyFinals: early.map((e) => e.detail.earlyFinal),
          chats: chats.map((e) => [e.outcome, e.detail.lastUserText]),
          speech: oai.log.withOutcome('ok', 'speech').length,
          turns: turns.map((t) => [t.input, t.interrupted, t.cancelled, t.e2eLatencyMs]),
          summary: {
            turns: metrics.summary().turns,
            interruptedTurns: metrics.summary().interruptedTurns,
            cancelledTurns: metrics.summary().cancelledTurns,
            interruptions: metrics.summary().turnTaking.interruptions,
          },
        }),
      );
      // the servers: an early final, a chat request on it that the client went away from, and
      // one answer per question, each heard (one speech request each)
      assert.equal(early.length, 1);
      assert.equal(discarded.length, 1);
      assert.match(String(discarded[0]!.detail.lastUserText), /^what is the weather$/i);
      assert.equal(answered.length, speeches.length);
      assert.equal(oai.log.withOutcome('ok', 'speech').length, speeches.length);

      const summary = metrics.summary();
      assert.equal(summary.turns, answered.length);
      assert.equal(turns.length, answered.length);
      assert.deepEqual(
        turns.map((t) => [t.input, t.interrupted, t.cancelled]),
        answered.map(() => ['voice', false, false]),
      );
      assert.equal(summary.interruptedTurns, 0);
      assert.equal(summary.cancelledTurns, 0);
      assert.equal(summary.turnTaking.interruptions, 0);
      // the discarded request: served, then cancelled; not an error
      const llm = pluginNumbers(metrics, 'llm');
      assert.deepEqual(
        [llm.requests, llm.cancelled, llm.errors],
        [answered.length, discarded.length, 0],
      );
      await metrics.close();
    },
  );
});
