import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeSessionEvent } from '../../../src/ingest/normalize.js';
import { TurnTakingTracker } from '../../../src/turns/turn-taking.js';
import type { Signal } from '../../../src/ingest/signals.js';
import type { MetricSample, TurnTakingEvent } from '../../../src/types.js';

/** Framework events, as the session emits them, through the normalizer into the tracker. */
function run(events: object[]) {
  const samples: MetricSample[] = [];
  const emitted: TurnTakingEvent[] = [];
  const tracker = new TurnTakingTracker({
    sample: (s) => samples.push(s),
    event: (e) => emitted.push(e),
  });
  for (const ev of events) for (const s of normalizeSessionEvent(ev, () => {})) tracker.handle(s);
  return { samples, emitted, counts: tracker.counts };
}

const agent = (newState: string, createdAt: number) => ({
  type: 'agent_state_changed',
  newState,
  createdAt,
});
const user = (newState: string, createdAt: number) => ({
  type: 'user_state_changed',
  newState,
  createdAt,
});

describe('turn-taking', () => {
  it('counts an interruption and the time from the caller’s first voiced sample, and from the VAD’s start, to the agent going quiet', () => {
    const samples: MetricSample[] = [];
    const t = new TurnTakingTracker({ sample: (s) => samples.push(s), event: () => {} });
    for (const s of normalizeSessionEvent(agent('speaking', 1000), () => {})) t.handle(s);
    // the probe saw the caller's voice start at 1930 (reported at 120 ms of speech); the VAD at 2000
    t.handle({ kind: 'user_audio_started', at: 1990, firstVoicedAt: 1930 });
    for (const ev of [user('speaking', 2000), agent('listening', 2450)]) {
      for (const s of normalizeSessionEvent(ev, () => {})) t.handle(s);
    }
    assert.equal(t.counts.interruptions, 0, 'not before the speech ends interrupted');
    t.handle({ kind: 'speech_done', at: 2500, speechId: 's1', interrupted: true });
    assert.equal(t.counts.interruptions, 1);
    assert.deepEqual(
      samples.map((s) => [s.stat, s.value, s.at, s.turnId]),
      [
        ['interruption_stop_latency', 520, 2450, 's1'],
        ['interruption_stop_latency_vad', 450, 2450, 's1'],
      ],
    );
  });

  it('takes an acoustic start that comes after the VAD’s (a soft onset), but not one of the speech the agent answered', () => {
    const stops = (signals: Signal[]) => {
      const samples: MetricSample[] = [];
      const t = new TurnTakingTracker({ sample: (s) => samples.push(s), event: () => {} });
      for (const s of signals) t.handle(s);
      return samples.map((s) => [s.stat, s.value]);
    };
    const cut: Signal[] = [
      { kind: 'agent_state', at: 2400, state: 'listening' },
      { kind: 'speech_done', at: 2500, speechId: 's1', interrupted: true },
    ];
    // the caller's question started at 0; the agent answered from 1000; the barge-in's own start
    // is reported after the VAD's (at 2010, its first voiced sample at 2050)
    assert.deepEqual(
      stops([
        { kind: 'user_audio_started', at: 120, firstVoicedAt: 0 },
        { kind: 'agent_state', at: 1000, state: 'speaking' },
        { kind: 'user_state', at: 2000, state: 'speaking' },
        { kind: 'user_audio_started', at: 2170, firstVoicedAt: 2050 },
        ...cut,
      ]),
      [
        ['interruption_stop_latency', 350],
        ['interruption_stop_latency_vad', 400],
      ],
    );
    // no acoustic start near the VAD's (no probe, or the question's alone): only the VAD's figure
    assert.deepEqual(
      stops([
        { kind: 'user_audio_started', at: 720, firstVoicedAt: 600 },
        { kind: 'agent_state', at: 1000, state: 'speaking' },
        { kind: 'user_state', at: 2000, state: 'speaking' },
        ...cut,
      ]),
      [['interruption_stop_latency_vad', 400]],
    );
    // a start reported after the agent went quiet still belongs to its barge-in
    assert.deepEqual(
      stops([
        { kind: 'agent_state', at: 1000, state: 'speaking' },
        { kind: 'user_state', at: 2000, state: 'speaking' },
        { kind: 'agent_state', at: 2050, state: 'listening' },
        { kind: 'user_audio_started', at: 2100, firstVoicedAt: 1960 },
        { kind: 'speech_done', at: 2200, speechId: 's1', interrupted: true },
      ]),
      [
        ['interruption_stop_latency', 90],
        ['interruption_stop_latency_vad', 50],
      ],
    );
    // the caller started as the agent did: the agent was talked over from its first word
    assert.deepEqual(
      stops([
        { kind: 'user_audio_started', at: 1070, firstVoicedAt: 950 },
        { kind: 'agent_state', at: 1000, state: 'speaking' },
        { kind: 'user_state', at: 1100, state: 'speaking' },
        ...cut,
      ]),
      [
        ['interruption_stop_latency', 1400],
        ['interruption_stop_latency_vad', 1300],
      ],
    );
  });

  it('does not count an overlap after which the agent went on, nor a speech that ended well', () => {
    const out: MetricSample[] = [];
    const t = new TurnTakingTracker({ sample: (s) => out.push(s), event: () => {} });
    t.handle({ kind: 'agent_state', at: 0, state: 'speaking' });
    t.handle({ kind: 'user_state', at: 100, state: 'speaking' });
    t.handle({ kind: 'user_state', at: 300, state: 'listening' });
    // the agent finished its sentence: not interrupted
    t.handle({ kind: 'agent_state', at: 2000, state: 'listening' });
    t.handle({ kind: 'speech_done', at: 2001, speechId: 's1', interrupted: false });
    // the caller speaks when the agent is quiet: no barge-in
    t.handle({ kind: 'user_state', at: 3000, state: 'speaking' });
    t.handle({ kind: 'speech_done', at: 3500, speechId: 's2', interrupted: true });
    assert.equal(t.counts.interruptions, 0);
    assert.equal(out.length, 0);
  });

  it('counts false interruptions by whether the agent resumed, and not as interruptions', () => {
    const { counts, emitted, samples } = run([
      agent('speaking', 0),
      user('speaking', 100),
      agent('listening', 300),
      { type: 'agent_false_interruption', resumed: true, createdAt: 2300 },
      agent('speaking', 2300),
      user('speaking', 3000),
      agent('listening', 3200),
      { type: 'agent_false_interruption', resumed: false, createdAt: 5200 },
    ]);
    assert.deepEqual(counts, {
      interruptions: 0,
      falseInterruptions: 2,
      resumedFalseInterruptions: 1,
      backchannels: 0,
    });
    assert.deepEqual(emitted, [
      { kind: 'false_interruption', resumed: true },
      { kind: 'false_interruption', resumed: false },
    ]);
    assert.equal(samples.length, 0);
  });

  it('adds up backchannels from the interruption model and takes the EOT inference delay', () => {
    const metrics = (m: object) => ({ type: 'metrics_collected', createdAt: 1, metrics: m });
    const { counts, samples } = run([
      metrics({
        type: 'interruption_metrics',
        timestamp: 10,
        numBackchannels: 2,
        numInterruptions: 1,
      }),
      metrics({ type: 'interruption_metrics', timestamp: 20, numBackchannels: 0 }),
      metrics({ type: 'interruption_metrics', timestamp: 30, numBackchannels: 1 }),
      metrics({
        type: 'eot_inference_metrics',
        timestamp: 40,
        detectionDelay: 85,
        totalDuration: 30,
      }),
      metrics({ type: 'eot_inference_metrics', timestamp: 50, detectionDelay: -1 }),
    ]);
    assert.equal(counts.backchannels, 3);
    assert.deepEqual(
      samples.map((s) => [s.stat, s.value, s.at]),
      [['eot_inference_delay', 85, 40]],
    );
  });

  it('takes no interruption from a discarded preemptive generation, and keeps the one the caller made', () => {
    const tracker = new TurnTakingTracker({ sample: () => {}, event: () => {} });
    const signals = [
      ...normalizeSessionEvent(agent('speaking', 1000), () => {}),
      ...normalizeSessionEvent(user('speaking', 1500), () => {}),
      ...normalizeSessionEvent(agent('listening', 1700), () => {}),
    ];
    for (const s of signals) tracker.handle(s);
    // the preemptive generation on the caller's early final, discarded before the cut answer ends
    tracker.handle({
      kind: 'speech_done',
      at: 1800,
      speechId: 'p1',
      interrupted: true,
      scheduled: false,
    });
    assert.equal(tracker.counts.interruptions, 0);
    tracker.handle({
      kind: 'speech_done',
      at: 1900,
      speechId: 's1',
      interrupted: true,
      scheduled: true,
    });
    assert.equal(tracker.counts.interruptions, 1);
  });
});
