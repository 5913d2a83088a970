import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Signal } from '../../../src/ingest/signals.js';
import { TurnTracker } from '../../../src/turns/turn-tracker.js';
import type { MetricSample, TurnTimeline } from '../../../src/types.js';

function track(signals: Signal[]) {
  const samples: MetricSample[] = [];
  const turns: TurnTimeline[] = [];
  const tools: string[] = [];
  const tracker = new TurnTracker({
    sample: (s) => samples.push(s),
    turn: (t) => turns.push(t),
    toolOutcome: (name, outcome) => tools.push(`${name}:${outcome}`),
  });
  for (const s of signals) tracker.handle(s);
  const values = (stat: string) => samples.filter((s) => s.stat === stat).map((s) => s.value);
  return { samples, turns, tools, tracker, values };
}

const P = { provider: 'fake', model: 'm' };
const llm = (
  at: number,
  ttftMs: number | undefined,
  durationMs: number,
  speechId = 's1',
  cancelled = false,
): Signal => ({
  kind: 'llm_request',
  at,
  speechId,
  startedAt: at - durationMs,
  ttftMs,
  durationMs,
  cancelled,
  completionTokens: 20,
  tokensPerSec: 20 / (durationMs / 1000),
  ...P,
});
/** The framework's end of the user's voice turn s1: speech stopped at 5000, reported at 5600. */
const endOfVoiceTurn: Signal = {
  kind: 'end_of_turn',
  at: 5600,
  speechId: 's1',
  stoppedSpeakingAt: 5000,
  transcriptionDelayMs: 100,
  endOfTurnDelayMs: 600,
};
const tts = (at: number, ttfbMs: number, durationMs: number, speechId = 's1'): Signal => ({
  kind: 'tts_request',
  at,
  speechId,
  startedAt: at - durationMs,
  ttfbMs,
  durationMs,
  cancelled: false,
  ...P,
});

describe('TurnTracker', () => {
  it("starts a voice turn's speech_end_lag at the acoustic end of speech received before it", () => {
    const { turns, values } = track([
      { kind: 'user_audio_ended', at: 1500, lastVoicedAt: 700 }, // an earlier utterance
      { kind: 'user_audio_ended', at: 5100, lastVoicedAt: 4880 },
      { kind: 'speech_created', at: 5600, speechId: 's1', source: 'generate_reply' },
      endOfVoiceTurn,
      { kind: 'agent_speaking', at: 5900 },
      { kind: 'speech_done', at: 7000, speechId: 's1', interrupted: false },
    ]);
    const lag = turns[0]!.stages.find((s) => s.stage === 'speech_end_lag')!;
    assert.deepEqual([lag.startAt, lag.durationMs, lag.offsetMs], [4880, 120, -120]);
    assert.deepEqual(values('e2e_latency'), [900]);
    assert.deepEqual(values('acoustic_e2e_latency'), [1020]);
  });

  it('gives a turn its agent_output stage from its first audible audio out, once', () => {
    const { turns } = track([
      { kind: 'speech_created', at: 5600, speechId: 's1', source: 'generate_reply' },
      endOfVoiceTurn,
      { kind: 'agent_speaking', at: 5900 },
      { kind: 'agent_audio_out', at: 5901, startedAt: 5900, audibleAt: 6040 },
      // a later segment of the same answer (after a tool call) is not the turn's first audio
      { kind: 'agent_audio_out', at: 6500, startedAt: 6400, audibleAt: 6450 },
      { kind: 'speech_done', at: 7000, speechId: 's1', interrupted: false },
    ]);
    const out = turns[0]!.stages.filter((s) => s.stage === 'agent_output');
    assert.deepEqual(
      out.map((s) => [s.startAt, s.durationMs, s.offsetMs]),
      [[5900, 140, 900]],
    );
    assert.equal(turns[0]!.e2eLatencyMs, 900, 'the e2e is unchanged: it ends at the first frame');
  });

  it('leaves a voice turn without an acoustic end when none is near its end of speech', () => {
    const { turns, values } = track([
      { kind: 'user_audio_ended', at: 1500, lastVoicedAt: 700 },
      { kind: 'speech_created', at: 5600, speechId: 's1', source: 'generate_reply' },
      endOfVoiceTurn,
      { kind: 'agent_speaking', at: 5900 },
      { kind: 'speech_done', at: 7000, speechId: 's1', interrupted: false },
    ]);
    assert.equal(
      turns[0]!.stages.some((s) => s.stage === 'speech_end_lag'),
      false,
    );
    assert.deepEqual(values('acoustic_e2e_latency'), []);
  });

  it('times a text turn from the committed user message to the agent starting its answer', () => {
    const { turns, values } = track([
      { kind: 'speech_created', at: 1001, speechId: 's1', source: 'generate_reply' },
      { kind: 'user_message', at: 1009, createdAt: 1000 },
      { kind: 'agent_speaking', at: 1120 },
      llm(1320, 110, 320),
      { kind: 'agent_message', at: 1350, interrupted: false, startedSpeakingAt: 1121 },
      { kind: 'speech_done', at: 1351, speechId: 's1', interrupted: false },
    ]);
    assert.equal(turns.length, 1);
    const [turn] = turns;
    assert.equal(turn!.input, 'text');
    assert.equal(turn!.startedAt, 1000);
    assert.equal(turn!.e2eLatencyMs, 120);
    assert.deepEqual(values('e2e_latency'), [120]);
    assert.deepEqual(values('ttft'), [110]);
    assert.deepEqual(values('ttlt'), [320]);
    assert.deepEqual(values('tokens_per_sec'), [62.5]);
    const llmStage = turn!.stages.find((s) => s.stage === 'llm')!;
    assert.equal(llmStage.offsetMs, 0);
    assert.equal(llmStage.firstOutputMs, 110);
  });

  it('times a voice turn from the end of speech, with STT as end of speech → final transcript', () => {
    const { turns, values } = track([
      { kind: 'speech_created', at: 5600, speechId: 's1', source: 'generate_reply' },
      {
        kind: 'end_of_turn',
        at: 5601,
        speechId: 's1',
        stoppedSpeakingAt: 5000,
        transcriptionDelayMs: 300,
        endOfTurnDelayMs: 600,
      },
      // the user's chat message repeats the same turn's timing (in ms after normalization)
      {
        kind: 'user_message',
        at: 5602,
        createdAt: 5602,
        stoppedSpeakingAt: 5000,
        transcriptionDelayMs: 300,
        endOfTurnDelayMs: 600,
      },
      llm(6000, 150, 390),
      tts(6200, 80, 150),
      { kind: 'agent_speaking', at: 6180 },
      { kind: 'agent_message', at: 7000, interrupted: false, startedSpeakingAt: 6170 },
      { kind: 'speech_done', at: 7001, speechId: 's1', interrupted: false },
    ]);
    const [turn] = turns;
    assert.equal(turn!.input, 'voice');
    assert.equal(turn!.e2eLatencyMs, 1170);
    assert.deepEqual(values('stt_latency'), [300]);
    assert.deepEqual(values('tts_latency'), [80]);
    assert.deepEqual(
      turn!.stages.map((s) => [s.stage, s.offsetMs, s.durationMs]),
      [
        ['stt', 0, 300],
        ['end_of_turn', 0, 600],
        ['llm', 610, 390],
        ['tts', 1050, 150],
      ],
    );
  });

  it('flags an interrupted turn and keeps what was measured before the interruption', () => {
    const { turns, values } = track([
      { kind: 'speech_created', at: 0, speechId: 's1', source: 'generate_reply' },
      { kind: 'user_message', at: 1, createdAt: 0 },
      // the LLM answered in 400 ms and was then cut off by the barge-in
      llm(3400, 400, 3400, 's1', true),
      { kind: 'agent_speaking', at: 900 },
      { kind: 'speech_done', at: 3500, speechId: 's1', interrupted: true },
      // a report that arrives after the turn ended still counts
      tts(3600, 90, 200),
      // a second request cut off before its first token has no latency
      { kind: 'speech_created', at: 4000, speechId: 's2', source: 'generate_reply' },
      llm(4300, undefined, 300, 's2', true),
      { kind: 'speech_done', at: 4400, speechId: 's2', interrupted: true },
    ]);
    assert.equal(turns[0]!.interrupted, true);
    assert.equal(turns[0]!.stages.length, 1, 'the timeline shows what happened');
    assert.deepEqual(values('ttft'), [400], 'the TTFT before the interruption');
    assert.deepEqual(values('e2e_latency'), [900], 'the caller heard the answer start');
    assert.deepEqual(values('ttlt'), [], 'a cut-off response has no last token');
    assert.deepEqual(values('tts_latency'), [90]);
  });

  it('marks a turn cancelled when the agent never started answering', () => {
    const { turns, samples } = track([
      { kind: 'speech_created', at: 0, speechId: 's1', source: 'generate_reply' },
      { kind: 'user_message', at: 1, createdAt: 0 },
      llm(500, undefined, 500),
      { kind: 'speech_done', at: 600, speechId: 's1', interrupted: false },
    ]);
    assert.equal(turns[0]!.cancelled, true);
    assert.equal(turns[0]!.e2eLatencyMs, undefined);
    assert.deepEqual(samples, []);
  });

  it('counts the whole tool call in the turn and each tool once, however it is reported', () => {
    const { turns, values, tools, tracker } = track([
      { kind: 'speech_created', at: 0, speechId: 's1', source: 'generate_reply' },
      { kind: 'user_message', at: 1, createdAt: 0 },
      llm(100, 50, 100),
      { kind: 'tool_started', at: 100, speechId: 's1', callId: 'a', name: 'getWeather' },
      { kind: 'tool_started', at: 101, speechId: 's1', callId: 'b', name: 'lookup' },
      { kind: 'tool_finished', at: 300, speechId: 's1', callId: 'a', name: '', isError: false },
      { kind: 'tool_finished', at: 151, speechId: 's1', callId: 'b', name: '', isError: true },
      // the framework's function_tools_executed repeats both
      {
        kind: 'tool_finished',
        at: 300,
        callId: 'a',
        name: 'getWeather',
        startedAt: 100,
        isError: false,
      },
      {
        kind: 'tool_finished',
        at: 151,
        callId: 'b',
        name: 'lookup',
        startedAt: 101,
        isError: true,
      },
      llm(420, 60, 120),
      { kind: 'agent_speaking', at: 361 },
      { kind: 'speech_done', at: 900, speechId: 's1', interrupted: false },
    ]);
    assert.deepEqual(tools, ['getWeather:ok', 'lookup:error']);
    assert.deepEqual(
      values('function_execution').sort((a, b) => a - b),
      [50, 200],
    );
    assert.equal(tracker.peakTools, 2);
    assert.equal(tracker.activeTools, 0);
    assert.equal(turns[0]!.e2eLatencyMs, 361);
    assert.deepEqual(values('ttft'), [50, 60]);
  });

  it('cancels tools still running when their speech ends', () => {
    const { tools, values } = track([
      { kind: 'speech_created', at: 0, speechId: 's1', source: 'generate_reply' },
      { kind: 'tool_started', at: 10, speechId: 's1', callId: 'a', name: 'slow' },
      { kind: 'speech_done', at: 50, speechId: 's1', interrupted: true },
      { kind: 'tool_finished', at: 900, callId: 'a', name: 'slow', startedAt: 10, isError: false },
    ]);
    assert.deepEqual(tools, ['slow:cancelled']);
    assert.deepEqual(values('function_execution'), []);
  });

  it('prefers per-request STT latency when the STT is not streaming', () => {
    const { values } = track([
      { kind: 'stt_request', at: 900, durationMs: 420, streamed: false, ...P },
      { kind: 'speech_created', at: 1000, speechId: 's1', source: 'generate_reply' },
      {
        kind: 'end_of_turn',
        at: 1001,
        speechId: 's1',
        stoppedSpeakingAt: 480,
        transcriptionDelayMs: 420,
        endOfTurnDelayMs: 500,
      },
      { kind: 'agent_speaking', at: 1500 },
      { kind: 'speech_done', at: 2000, speechId: 's1', interrupted: false },
    ]);
    assert.deepEqual(values('stt_latency'), [420], 'one sample, not two');
  });

  it('keeps two overlapping turns apart by speech id', () => {
    const { turns } = track([
      { kind: 'speech_created', at: 0, speechId: 's1', source: 'say' },
      { kind: 'agent_speaking', at: 10 },
      { kind: 'speech_created', at: 20, speechId: 's2', source: 'generate_reply' },
      llm(200, 100, 180, 's2'),
      tts(50, 30, 40, 's1'),
      { kind: 'speech_done', at: 300, speechId: 's1', interrupted: false },
      { kind: 'speech_done', at: 400, speechId: 's2', interrupted: false },
    ]);
    assert.deepEqual(
      turns.map((t) => [t.id, t.input, t.stages.map((s) => s.stage).join()]),
      [
        ['s1', 'none', 'tts'],
        ['s2', 'none', 'llm'],
      ],
    );
  });

  it('ends turns still open when the session closes: interrupted mid-answer, else cancelled', () => {
    const { turns } = track([
      { kind: 'speech_created', at: 0, speechId: 's1', source: 'generate_reply' },
      { kind: 'agent_speaking', at: 5 },
      { kind: 'speech_created', at: 6, speechId: 's2', source: 'generate_reply' },
      { kind: 'session_closed', at: 10 },
    ]);
    assert.deepEqual(
      turns.map((t) => [t.id, t.interrupted, t.cancelled]),
      [
        ['s1', true, false],
        ['s2', false, true],
      ],
    );
  });

  it('takes a speech cut off before the agent said anything as cancelled, not interrupted', () => {
    const { turns } = track([
      { kind: 'speech_created', at: 5000, speechId: 's1', source: 'generate_reply' },
      endOfVoiceTurn,
      llm(5900, undefined, 300, 's1', true),
      { kind: 'speech_done', at: 6000, speechId: 's1', interrupted: true },
    ]);
    assert.deepEqual(
      turns.map((t) => [t.input, t.interrupted, t.cancelled]),
      [['voice', false, true]],
    );
  });

  it('takes a discarded preemptive generation as no turn: its samples count, its user side goes to the answer', () => {
    const { turns, values, samples } = track([
      // the early final's preemptive generation, then the answer to the whole sentence
      { kind: 'speech_created', at: 4000, speechId: 'p1', source: 'generate_reply' },
      llm(4900, 700, 900, 'p1'),
      { kind: 'speech_created', at: 5050, speechId: 's1', source: 'generate_reply' },
      { kind: 'speech_done', at: 5060, speechId: 'p1', interrupted: true, scheduled: false },
      endOfVoiceTurn,
      llm(5900, 200, 300),
      { kind: 'agent_speaking', at: 6100 },
      // a report of the discarded speech that comes late is not the answer's
      llm(6150, 300, 1000, 'p1', true),
      { kind: 'speech_done', at: 7000, speechId: 's1', interrupted: false, scheduled: true },
    ]);
    assert.deepEqual(
      turns.map((t) => [t.id, t.input, t.interrupted, t.cancelled, t.e2eLatencyMs]),
      [['s1', 'voice', false, false, 1100]],
    );
    assert.deepEqual(turns[0]!.stages.filter((st) => st.stage === 'llm').length, 1);
    assert.deepEqual(values('ttft').sort(), [200, 300, 700]);
    // by value: the discarded speech's (700, 300) carry no turn, the answer's (200) its own
    assert.deepEqual(
      samples
        .filter((s) => s.stat === 'ttft')
        .sort((x, y) => x.value - y.value)
        .map((s) => s.turnId),
      ['s1', undefined, undefined],
    );
  });

  it("starts a realtime model's spoken turn at the end of the caller's speech, whenever its transcript comes", () => {
    const transcript = (at: number, itemId: string): Signal[] => [
      { kind: 'stt_final_transcript', at, itemId },
      { kind: 'user_message', at, createdAt: at, itemId },
    ];
    const { turns, values } = track([
      { kind: 'user_state', at: 1000, state: 'speaking' },
      { kind: 'user_audio_ended', at: 2010, lastVoicedAt: 2000 },
      { kind: 'user_state', at: 2500, state: 'listening' },
      // the server answers the speech it ended (voice/agent_activity.ts onGenerationCreated)
      {
        kind: 'speech_created',
        at: 2560,
        speechId: 'r1',
        source: 'generate_reply',
        userInitiated: false,
      },
      { kind: 'agent_speaking', at: 2850 },
      ...transcript(3000, 'item_1'), // after the answer's first audio
      { kind: 'speech_done', at: 4000, speechId: 'r1', interrupted: false, scheduled: true },
      ...transcript(4500, 'item_0'), // a late one of an earlier turn waits for no answer
      { kind: 'user_state', at: 5000, state: 'speaking' },
      { kind: 'user_state', at: 6000, state: 'listening' },
      ...transcript(6050, 'item_2'), // before the answer
      {
        kind: 'speech_created',
        at: 6100,
        speechId: 'r2',
        source: 'generate_reply',
        userInitiated: false,
      },
      { kind: 'agent_speaking', at: 6400 },
      { kind: 'speech_done', at: 7000, speechId: 'r2', interrupted: false, scheduled: true },
    ]);
    assert.deepEqual(
      turns.map((t) => [t.id, t.input, t.userStoppedSpeakingAt, t.e2eLatencyMs]),
      [
        ['r1', 'voice', 2500, 350],
        ['r2', 'voice', 6000, 400],
      ],
    );
    assert.deepEqual(values('e2e_latency'), [350, 400]);
    // the acoustic end (the input probe) of the first turn; none was seen for the second
    assert.deepEqual(values('acoustic_e2e_latency'), [850]);
    // no STT made these transcripts: no STT latency
    assert.deepEqual(values('stt_latency'), []);
  });
});
