import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HeardLatencyTracker,
  type VoicedSpan,
  windowLevel,
} from '../../../src/caller/heard-latency-tracker.js';

/** Voiced 10 ms windows from `from` to `to` (ms), loud from their first to their last sample. */
function voiced(from: number, to: number): VoicedSpan[] {
  const spans: VoicedSpan[] = [];
  for (let t = from; t < to; t += 10) {
    spans.push({ startAt: t, endAt: t + 10, firstLoudAt: t, lastLoudAt: t + 9.9, voicedMs: 10 });
  }
  return spans;
}

function play(tracker: HeardLatencyTracker, mic: VoicedSpan[], agent: VoicedSpan[]) {
  const events = [
    ...mic.map((s) => ({ s, mic: true })),
    ...agent.map((s) => ({ s, mic: false })),
  ].sort((a, b) => a.s.startAt - b.s.startAt);
  const turns = [];
  for (const e of events) {
    if (e.mic) tracker.mic(e.s);
    else {
      const turn = tracker.agent(e.s);
      if (turn) turns.push(turn);
    }
  }
  return turns;
}

describe('HeardLatencyTracker', () => {
  it("pairs the caller's last voiced sample with the agent's first audible one", () => {
    const turns = play(new HeardLatencyTracker(), voiced(0, 1_000), voiced(1_800, 2_500));
    assert.deepEqual(turns, [{ callerSpeechEndAt: 999.9, agentAudioAt: 1_800, latencyMs: 800.1 }]);
  });

  it('keeps pauses shorter than the hangover inside one utterance', () => {
    // 200 ms pause between words (< 300 ms hangover): the end is the second word's
    const mic = [...voiced(0, 400), ...voiced(600, 900)];
    const turns = play(new HeardLatencyTracker(), mic, voiced(1_500, 1_700));
    assert.equal(turns[0]?.callerSpeechEndAt, 899.9);
  });

  it('ignores a click shorter than the minimum speech', () => {
    const tracker = new HeardLatencyTracker();
    assert.deepEqual(play(tracker, voiced(0, 50), voiced(500, 700)), []);
  });

  it('ignores agent audio that started before the caller stopped (talk-over, echo)', () => {
    // the agent talks from 500 to 1500 without a pause; the caller speaks 0..1000
    const tracker = new HeardLatencyTracker({ ignoreMicWhileAgentAudible: false });
    const turns = play(tracker, voiced(0, 1_000), [...voiced(500, 1_500), ...voiced(2_000, 2_200)]);
    assert.deepEqual(turns, [
      { callerSpeechEndAt: 999.9, agentAudioAt: 2_000, latencyMs: 1_000.1 },
    ]);
  });

  it("treats the microphone picking up the agent as echo, not as the caller's turn", () => {
    // the agent speaks 0..1000 and its echo reaches the mic 20 ms later; it then pauses and goes on
    const mic = voiced(20, 1_020);
    const agent = [...voiced(0, 1_000), ...voiced(1_500, 1_800)];
    assert.deepEqual(play(new HeardLatencyTracker(), mic, agent), []);
  });

  it('reports each utterance once', () => {
    const mic = [...voiced(0, 500), ...voiced(3_000, 3_500)];
    // the answer to the first utterance has pauses between its sentences
    const agent = [...voiced(1_000, 1_500), ...voiced(1_800, 2_200), ...voiced(4_000, 4_300)];
    const turns = play(new HeardLatencyTracker(), mic, agent);
    assert.deepEqual(
      turns.map((t) => Math.round(t.latencyMs)),
      [500, 500],
    );
  });
});

describe('windowLevel', () => {
  it('gives the RMS and the first and last sample at or above the threshold', () => {
    const samples = new Int16Array([0, 100, -400, 50, 330, 0, 0, 0]);
    const level = windowLevel(samples, 0, 8, 1 / 32768, 0.01);
    assert.equal(level.firstLoud, 2);
    assert.equal(level.lastLoud, 4);
    const rms = Math.sqrt((100 ** 2 + 400 ** 2 + 50 ** 2 + 330 ** 2) / 8) / 32768;
    assert.ok(Math.abs(level.rms - rms) < 1e-12);
  });

  it('reads one channel of interleaved audio', () => {
    const stereo = new Int16Array([0, 9_000, 500, 9_000, 0, 9_000]);
    const left = windowLevel(stereo, 0, 6, 1 / 32768, 0.01, 2);
    assert.deepEqual([left.firstLoud, left.lastLoud], [1, 1]);
  });
});
