/**
 * The agent's side of heard latency on a real voice AgentSession (real speech, the bundled Silero
 * VAD, fake STT/LLM/TTS): attachMetrics, given a room stand-in that delivers data events as
 * rtc-node does, accepts the linked caller's report as the heard_latency sample of its turn,
 * publishes the turn again with its new stages, and counts every hostile report without letting
 * it move anything.
 */
import { TrackSource } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, describe, it } from 'node:test';
import { attachMetrics } from '../../src/index.js';
import type { MetricsRoom, SessionMetrics, TurnTimeline } from '../../src/index.js';
import { decodeMessage } from '../../src/wire/decode.js';
import type { MetricsMessage } from '../../src/wire/messages.js';
import { EnergySTT } from '../support/fake-stt.js';
import { FakeTTS } from '../support/fake-tts.js';
import { ScriptedLLM } from '../support/scripted-llm.js';
import { type VoiceHarness, sleep, startVoiceSession } from '../support/session-harness.js';
import { speak } from '../support/speech.js';

const TOPIC = 'agent-metrics';

class FakeRoom extends EventEmitter implements MetricsRoom {
  readonly isConnected = true;
  readonly name = 'room';
  readonly messages: MetricsMessage[] = [];
  readonly localParticipant = {
    publishData: async (data: Uint8Array) => {
      const m = decodeMessage(data);
      if (m) this.messages.push(m);
    },
  };
  deliver(payload: Uint8Array | string, from: object | undefined) {
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
    this.emit('dataReceived', bytes, from, undefined, TOPIC);
  }
}

const participant = (identity: string, mic: boolean) => ({
  identity,
  trackPublications: new Map(
    mic ? [['TR_1', { source: TrackSource.SOURCE_MICROPHONE, subscribed: true }]] : [],
  ),
});

/** A report as JSON text: the caller's encoder would refuse to send the invalid ones. */
function report(seq: number, heard: number, end = 1_700_000_000_000) {
  return JSON.stringify({
    v: 1,
    type: 'heard_latency',
    seq,
    heardLatencyMs: heard,
    callerSpeechEndAt: end,
    agentAudioAt: end + heard,
  });
}

describe('attachMetrics reading callers’ heard-latency reports', () => {
  let h: VoiceHarness | undefined;
  after(async () => h?.close());

  it('records the linked caller’s report on its turn and counts every hostile one', async () => {
    const room = new FakeRoom();
    let metrics!: SessionMetrics;
    h = await startVoiceSession({
      llm: new ScriptedLLM([{ input: 'hello', content: 'Hi there.', ttft: 120, duration: 200 }]),
      tts: new FakeTTS({ ttfbMs: () => 100, audioMsPerChar: 40 }),
      stt: new EnergySTT({ sttDelayMs: 200, transcripts: ['hello'] }),
      minEndpointingDelayMs: 300,
      beforeStart: (session) => {
        metrics = attachMetrics(session, { room, prometheus: false, publish: { topic: TOPIC } });
      },
    });
    const turnDone = new Promise<TurnTimeline>((resolve) => metrics.on('turn', resolve));
    await h.input.playSilence(300);
    await h.input.playSpeech(await speak('Hello there'));
    await h.input.playSilence(200);
    const turn = await turnDone;
    const before = metrics.summary();
    const lag = turn.stages.find((s) => s.stage === 'speech_end_lag')!;
    // what the agent measured itself: its acoustic end of speech → its first audible sample out
    const output = turn.stages.find((s) => s.stage === 'agent_output');
    assert.ok(output, 'the turn has its agent_output stage');
    const agentMs = output.startAt + output.durationMs - lag.startAt;

    const caller = participant('caller', true);
    const viewer = participant('viewer', false);
    room.deliver(report(1, agentMs + 400), viewer); // not linked
    room.deliver('{"v":1,"type":"heard_latency","seq":"x"}', caller); // invalid
    room.deliver(report(1, 1e9), caller); // invalid: beyond 60 s
    room.deliver(report(1, 5), caller); // implausible: shorter than the agent's own part
    await sleep(600);
    room.deliver(report(2, agentMs + 400), caller); // accepted
    room.deliver(report(3, agentMs + 900), caller); // rate limited
    await sleep(600);
    room.deliver(report(4, agentMs + 900), caller); // a second report for the turn
    await sleep(50);

    const s = metrics.summary();
    assert.equal(s.stats.heard_latency.count, 1);
    assert.equal(s.stats.heard_latency.avg, agentMs + 400);
    const dropped = Object.fromEntries(
      Object.entries(s.health.droppedSamples).filter(([k]) => k.startsWith('heard_latency:')),
    );
    assert.deepEqual(dropped, {
      'heard_latency:not_linked': 1,
      'heard_latency:invalid': 2,
      'heard_latency:implausible': 1,
      'heard_latency:rate_limited': 1,
      'heard_latency:duplicate': 1,
    });
    // nothing else moved
    for (const name of Object.keys(s.stats) as Array<keyof typeof s.stats>) {
      if (name !== 'heard_latency') assert.deepEqual(s.stats[name], before.stats[name], name);
    }
    assert.equal(s.turns, before.turns);

    // the turn, kept and published again with the same id, carries the heard stages
    const kept = metrics.turns().at(-1)!;
    assert.equal(kept.id, turn.id);
    assert.equal(kept.heardLatencyMs, agentMs + 400);
    const network = kept.stages.find((st) => st.stage === 'network')!;
    assert.ok(Math.abs(network.durationMs - 400) < 1e-6, `network ${network.durationMs}`);
    const published = room.messages.filter(
      (m): m is Extract<MetricsMessage, { type: 'turn' }> => m.type === 'turn',
    );
    assert.deepEqual(
      published.map((m) => [m.turn.id, m.turn.heardLatencyMs]),
      [
        [turn.id, undefined],
        [turn.id, agentMs + 400],
      ],
    );
  });
});
