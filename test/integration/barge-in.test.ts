/**
 * Barge-ins on a real voice AgentSession with the real Silero VAD (@livekit/agents-plugin-silero):
 * espeak-ng speech pushed in real time talks over a 4 s answer; `interruption_stop_latency` is
 * checked against what the caller lived, taken at the audio edges: the barge-in's first sample
 * above 300/32768 as the agent received it (ScriptedAudioInput's delivery time) → the speaker
 * double's buffer cleared (its segment's end). The VAD's figure (`interruption_stop_latency_vad`)
 * starts at its detection, which trails that first sample.
 *
 * Tolerance: ±30 ms, and the upper bound widened by the longest stall of this process's event
 * loop during the barge-in (the VAD's inference and a loaded 2-core machine): a stall between the
 * buffer being cleared and the framework's state change moves the agent's end of the interval,
 * not the double's.
 */
import * as silero from '@livekit/agents-plugin-silero';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { attachMetrics } from '../../src/index.js';
import { EnergySTT } from '../support/fake-stt.js';
import { FakeTTS } from '../support/fake-tts.js';
import { LoopStall } from '../support/providers/plugin-numbers.js';
import { ScriptedLLM } from '../support/scripted-llm.js';
import { type VoiceHarness, sleep, startVoiceSession } from '../support/session-harness.js';
import { speak } from '../support/speech.js';

const TOLERANCE_MS = 30;

describe('interruption_stop_latency on a real session', () => {
  const harnesses: VoiceHarness[] = [];
  const stall = new LoopStall();
  after(async () => {
    stall.stop();
    for (const h of harnesses) await h.close();
  });

  it("runs from the caller's first voiced sample as the agent received it to the agent's audio stopping, within 30 ms, in three barge-ins", async () => {
    const [ask, stop] = await Promise.all(
      ['Tell me about the weather', 'Hold on a second'].map((p) => speak(p)),
    );
    // 80 characters at 50 ms each: a 4 s answer
    const answer = 'The weather today is sunny and warm with a light breeze from the west all day.';
    const llm = new ScriptedLLM([
      { input: 'weather', content: answer, ttft: 300, duration: 400 },
      { input: 'hold', content: 'Sure.', ttft: 120, duration: 150 },
    ]);
    const h = await startVoiceSession({
      llm,
      vad: await silero.VAD.load(),
      tts: new FakeTTS({ ttfbMs: 100, audioMsPerChar: 50 }),
      stt: new EnergySTT({ sttDelayMs: 200, transcripts: (i) => (i % 2 ? 'hold' : 'weather') }),
      minEndpointingDelayMs: 400,
    });
    harnesses.push(h);
    const metrics = attachMetrics(h.session);
    const measured: Record<
      'interruption_stop_latency' | 'interruption_stop_latency_vad',
      number[]
    > = { interruption_stop_latency: [], interruption_stop_latency_vad: [] };
    metrics.on('sample', (x) => {
      if (x.stat === 'interruption_stop_latency' || x.stat === 'interruption_stop_latency_vad') {
        measured[x.stat].push(x.value);
      }
    });

    const rows = [];
    await h.input.playSilence(300);
    for (const [i, talkOverAfterMs] of [1000, 1300, 1600].entries()) {
      await h.input.playSpeech(ask!);
      await h.output.waitForSegmentStart(2 * i);
      await sleep(talkOverAfterMs);
      stall.reset();
      const bargeIn = await h.input.playSpeech(stop!);
      const cut = await h.output.waitForSegmentEnd(2 * i);
      await h.output.waitForSegmentEnd(2 * i + 1);
      await sleep(300);
      const stallMs = stall.maxMs();
      assert.equal(cut.interrupted, true, `barge-in ${i}: the answer was cut`);
      assert.equal(measured.interruption_stop_latency.length, i + 1, `barge-in ${i}: one sample`);
      const observed = cut.finishedAt! - bargeIn.speechStartedAt!;
      const stopMs = measured.interruption_stop_latency[i]!;
      const vadMs = measured.interruption_stop_latency_vad[i]!;
      rows.push({
        observed: +observed.toFixed(1),
        interruption_stop_latency: +stopMs.toFixed(1),
        delta: +(stopMs - observed).toFixed(1),
        interruption_stop_latency_vad: +vadMs.toFixed(1),
        stallMs: Math.round(stallMs),
      });
      assert.ok(
        stopMs >= observed - TOLERANCE_MS && stopMs <= observed + TOLERANCE_MS + stallMs,
        `barge-in ${i}: interruption_stop_latency ${stopMs.toFixed(1)} ms, observed ` +
          `${observed.toFixed(1)} ms (loop stalled up to ${Math.round(stallMs)} ms)`,
      );
      // the VAD detects the barge-in after its first voiced sample: its figure is the shorter
      assert.ok(vadMs < stopMs, `barge-in ${i}: VAD ${vadMs} ms, acoustic ${stopMs} ms`);
    }
    console.table(rows);
    assert.equal(metrics.summary().turnTaking.interruptions, 3);
    await metrics.close();
  });
});
