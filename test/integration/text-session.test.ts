/**
 * Real voice.AgentSession in text mode (no audio), with the framework's FakeLLM (through
 * ScriptedLLM) injecting known latencies. Each metric is checked against that ground truth.
 *
 * Tolerance: the framework starts its TTFT clock when the LLM stream is constructed and the
 * fake starts its delay a task later, timers fire late by a few ms on a loaded 2-core machine,
 * and the framework truncates ms. So an observed latency must be ≥ injected − 1 ms and at most
 * 40 ms above it; a wrong derivation (wrong field, unit, or stage) is off by far more.
 */
import { initializeLogger, llm, voice } from '@livekit/agents';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { MetricsConfigError, attachMetrics } from '../../src/index.js';
import type { AlertEvent, TurnTimeline } from '../../src/index.js';
import { ScriptedLLM, toolOutputKey } from '../support/scripted-llm.js';

const SLACK_MS = 40;
function assertNear(observed: number | null | undefined, injected: number, what: string): void {
  assert.ok(observed !== null && observed !== undefined, `${what}: no value`);
  assert.ok(
    observed >= injected - 1 && observed <= injected + SLACK_MS,
    `${what}: observed ${observed} ms, injected ${injected} ms`,
  );
}

const TOOL_MS = 200;
function weatherAgent() {
  return new voice.Agent({
    instructions: 'You are a test agent.',
    tools: {
      getWeather: llm.tool({
        description: 'Weather for a city',
        parameters: z.object({ city: z.string() }),
        execute: async () => {
          await new Promise((r) => setTimeout(r, TOOL_MS));
          return 'sunny';
        },
      }),
      bookTable: llm.tool({
        description: 'Always fails',
        parameters: z.object({}),
        execute: async () => {
          await new Promise((r) => setTimeout(r, 30));
          throw new Error('no tables');
        },
      }),
    },
  });
}

async function runTurns(session: voice.AgentSession, inputs: string[]) {
  for (const userInput of inputs) {
    try {
      await session.run({ userInput }).wait();
    } catch {
      // a failed LLM request makes the run fail; the metrics must still count it
    }
  }
}

before(() => initializeLogger({ pretty: false, level: 'silent' }));

describe('attachMetrics on a text-mode AgentSession', () => {
  const sessions: voice.AgentSession[] = [];
  after(async () => {
    for (const s of sessions) await s.close().catch(() => {});
  });
  const newSession = (fake: ScriptedLLM) => {
    const session = new voice.AgentSession({ llm: fake });
    sessions.push(session);
    return session;
  };

  it('derives TTFT, TTLT, tokens/s and e2e of plain turns from the injected latencies', async () => {
    const turns = [
      {
        input: 'one',
        content: 'First answer.',
        ttft: 120,
        duration: 300,
        usage: { completionTokens: 30 },
      },
      {
        input: 'two',
        content: 'Second answer.',
        ttft: 250,
        duration: 450,
        usage: { completionTokens: 45 },
      },
      {
        input: 'three',
        content: 'Third answer.',
        ttft: 80,
        duration: 200,
        usage: { completionTokens: 10 },
      },
    ];
    const fake = new ScriptedLLM(turns, { provider: 'acme', model: 'acme-1' });
    const session = newSession(fake);
    const metrics = attachMetrics(session, { labels: { agent_name: 'test' } });
    const seen: TurnTimeline[] = [];
    metrics.on('turn', (t) => seen.push(t));
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await runTurns(
      session,
      turns.map((t) => t.input),
    );

    assert.equal(seen.length, 3);
    seen.forEach((turn, i) => {
      const injected = turns[i]!;
      assert.equal(turn.input, 'text');
      assert.equal(turn.interrupted, false);
      const llmStage = turn.stages.find((s) => s.stage === 'llm')!;
      assertNear(llmStage.firstOutputMs, injected.ttft, `turn ${i} ttft`);
      assertNear(llmStage.durationMs, injected.duration, `turn ${i} ttlt`);
      // text path: user turn committed → the agent starts its answer (its first token)
      assertNear(turn.e2eLatencyMs, injected.ttft, `turn ${i} e2e`);
    });
    const ttft = metrics.stats('ttft');
    assert.equal(ttft.count, 3);
    assertNear(ttft.min, 80, 'ttft min');
    assertNear(ttft.max, 250, 'ttft max');
    assertNear(ttft.p50, 120, 'ttft p50');
    // numpy: percentile([80,120,250], 90) = 224
    assertNear(ttft.p90, 224, 'ttft p90');
    assertNear(metrics.stats('ttlt').p50, 300, 'ttlt p50');
    const rates = turns.map((t) => t.usage.completionTokens / (t.duration / 1000));
    const tps = metrics.stats('tokens_per_sec');
    assert.equal(tps.count, 3);
    // tokens/s = tokens / TTLT: a few ms on a 200 ms request moves it by up to ~20%
    assert.ok(Math.abs(tps.max! - Math.max(...rates)) / Math.max(...rates) < 0.2, `tps ${tps.max}`);
    assert.equal(metrics.errorRate('llm'), 0);
    const summary = metrics.summary();
    assert.equal(summary.turns, 3);
    assert.equal(summary.components.llm.requests, 3);
    assert.deepEqual(summary.labels, { agent_name: 'test' });
    assert.equal(summary.bottleneck, 'llm');
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(summary)));
    await metrics.close();
  });

  it('counts a tool call turn the whole way to the answer and times the tool', async () => {
    const fake = new ScriptedLLM(
      [
        {
          input: 'weather?',
          content: '',
          ttft: 60,
          duration: 90,
          toolCalls: [{ name: 'getWeather', args: { city: 'Paris' } }],
        },
        { input: toolOutputKey('sunny'), content: 'It is sunny.', ttft: 70, duration: 150 },
        {
          input: 'book',
          content: '',
          ttft: 40,
          duration: 50,
          toolCalls: [{ name: 'bookTable', args: {} }],
        },
        { input: toolOutputKey(undefined) },
      ],
      { fallback: { content: 'Sorry.', ttft: 50, duration: 80 } },
    );
    const session = newSession(fake);
    const metrics = attachMetrics(session);
    await session.start({ agent: weatherAgent() });
    await runTurns(session, ['weather?', 'book']);

    const [weather, book] = metrics.turns();
    const tool = weather!.stages.find((s) => s.stage === 'function')!;
    assert.equal(tool.name, 'getWeather');
    assert.equal(tool.outcome, 'ok');
    assertNear(tool.durationMs, TOOL_MS, 'tool duration');
    assert.equal(weather!.stages.filter((s) => s.stage === 'llm').length, 2);
    // e2e spans first LLM TTFT (60) + tool (200) + reply TTFT (70)
    assert.ok(weather!.e2eLatencyMs! >= 60 + TOOL_MS + 70 - 1, `e2e ${weather!.e2eLatencyMs}`);
    assert.ok(
      weather!.e2eLatencyMs! <= 60 + TOOL_MS + 70 + 3 * SLACK_MS,
      `e2e ${weather!.e2eLatencyMs}`,
    );
    const failing = book!.stages.find((s) => s.stage === 'function')!;
    assert.equal(failing.outcome, 'error');
    const s = metrics.summary();
    assert.equal(s.components.function.requests, 2);
    assert.equal(s.components.function.errors, 1);
    assert.equal(metrics.errorRate('function'), 50);
    assert.equal(s.functions.getWeather!.count, 1);
    assert.equal(s.functions.bookTable!.errors, 1);
    assert.equal(metrics.summary().concurrency.peakTools, 1);
    assert.equal(metrics.summary().concurrency.activeTools, 0);
    await metrics.close();
  });

  it('counts a failed LLM request as an error, once, and raises the error-rate alert', async () => {
    const fake = new ScriptedLLM([
      { input: 'a', content: 'A.', ttft: 50, duration: 80 },
      { input: 'b', content: 'B.', ttft: 50, duration: 80, fail: { afterMs: 30 } },
      { input: 'c', content: 'C.', ttft: 50, duration: 80 },
      { input: 'd', content: 'D.', ttft: 50, duration: 80 },
    ]);
    const session = newSession(fake);
    const alerts: AlertEvent[] = [];
    const metrics = attachMetrics(session, { alertMinRequests: 1 });
    metrics.on('alert', (a) => alerts.push(a));
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await runTurns(session, ['a', 'b', 'c', 'd']);

    const llmReq = metrics.summary().components.llm;
    assert.equal(llmReq.requests, 4);
    assert.equal(llmReq.errors, 1);
    assert.equal(metrics.errorRate('llm'), 25);
    assert.equal(metrics.stats('ttft').count, 3, 'the failed request has no TTFT');
    const raised = alerts.find(
      (a) => a.metric === 'error_rate' && a.component === 'llm' && a.state === 'raised',
    );
    assert.ok(raised, `alerts: ${JSON.stringify(alerts)}`);
    assert.equal(raised.level, 'critical');
    assert.equal(metrics.summary().cancelledTurns, 1, 'the failed turn never answered');
    await metrics.close();
  });

  it('raises a TTFT alert over the rolling p90 and clears it when the window recovers', async () => {
    let now = Date.now();
    const fake = new ScriptedLLM([
      { input: 'slow', content: 'Slow.', ttft: 300, duration: 350 },
      { input: 'fast', content: 'Fast.', ttft: 20, duration: 40 },
    ]);
    const session = newSession(fake);
    const alerts: AlertEvent[] = [];
    const metrics = attachMetrics(session, {
      alerts: { ttft: { warning: 150, critical: 250 } },
      alertWindowMs: 60_000,
      now: () => now,
    });
    metrics.on('alert', (a) => alerts.push(a));
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await runTurns(session, ['slow']);
    assert.deepEqual(
      alerts.map((a) => [a.state, a.level, a.metric]),
      [['raised', 'critical', 'ttft']],
    );
    assert.equal(metrics.summary().alerts[0]!.metric, 'ttft');
    // a minute later the slow sample has left the window; fast turns keep p90 low
    now += 61_000;
    const realNow = Date.now;
    Date.now = () => now; // the framework stamps its events with Date.now()
    try {
      await runTurns(session, ['fast']);
    } finally {
      Date.now = realNow;
    }
    assert.deepEqual(alerts.at(-1) && [alerts.at(-1)!.state, alerts.at(-1)!.level], [
      'cleared',
      'critical',
    ]);
    assert.deepEqual(metrics.summary().alerts, []);
    await metrics.close();
  });

  it('keeps two sessions in one process apart and counts them as concurrent', async () => {
    const a = newSession(new ScriptedLLM([{ input: 'x', content: 'X.', ttft: 50, duration: 60 }]));
    const b = newSession(
      new ScriptedLLM([{ input: 'x', content: 'X.', ttft: 300, duration: 320 }]),
    );
    const ma = attachMetrics(a);
    const mb = attachMetrics(b);
    await Promise.all([
      a.start({ agent: new voice.Agent({ instructions: 'x' }) }),
      b.start({ agent: new voice.Agent({ instructions: 'x' }) }),
    ]);
    await Promise.all([runTurns(a, ['x', 'x']), runTurns(b, ['x'])]);
    assert.equal(ma.stats('ttft').count, 2);
    assert.equal(mb.stats('ttft').count, 1);
    assertNear(ma.stats('ttft').max, 50, 'session a');
    assertNear(mb.stats('ttft').max, 300, 'session b');
    assert.ok(ma.summary().concurrency.peakSessions >= 2);
    const active = ma.summary().concurrency.activeSessions;
    await a.close();
    assert.equal(
      mb.summary().concurrency.activeSessions,
      active - 1,
      'a closed session leaves the gauge',
    );
    await ma.close();
    await mb.close();
  });

  it('works when attached after session.start(), and close() detaches idempotently', async () => {
    const fake = new ScriptedLLM([{ input: 'x', content: 'X.', ttft: 90, duration: 100 }]);
    const session = newSession(fake);
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    const metrics = attachMetrics(session);
    await runTurns(session, ['x']);
    assertNear(metrics.stats('ttft').p50, 90, 'ttft after late attach');
    await metrics.close();
    await metrics.close();
    await runTurns(session, ['x']);
    assert.equal(metrics.stats('ttft').count, 1, 'nothing recorded after close');
    assert.doesNotThrow(() => attachMetrics(session).close(), 're-attach after close is allowed');
  });

  it('never lets a throwing listener reach the agent session', async () => {
    const fake = new ScriptedLLM([{ input: 'x', content: 'X.', ttft: 30, duration: 40 }]);
    const session = newSession(fake);
    const warnings: string[] = [];
    const metrics = attachMetrics(session, {
      logger: { warn: (_o, msg) => warnings.push(msg ?? '') },
    });
    metrics.on('turn', () => {
      throw new Error('listener bug');
    });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await runTurns(session, ['x', 'x']);
    assert.equal(metrics.summary().turns, 2);
    assert.equal(warnings.length, 1, 'logged once, not per turn');
    await metrics.close();
  });

  it('fails fast on bad configuration with a clear error', () => {
    const session = newSession(new ScriptedLLM());
    assert.throws(
      () => attachMetrics(session, { alerts: { ttft: { warning: 5000, critical: 100 } } }),
      MetricsConfigError,
    );
    assert.throws(
      () => attachMetrics(session, { labels: { 'bad-name': 'x' } }),
      /labels\.bad-name/,
    );
    assert.throws(() => attachMetrics(session, { alertWindowMs: -5 }), /alertWindowMs/);
    assert.throws(
      () => attachMetrics(session, { audibleOutput: 'yes' as unknown as boolean }),
      /audibleOutput/,
    );
    assert.throws(() => attachMetrics({} as voice.AgentSession), /voice\.AgentSession/);
    const first = attachMetrics(session);
    assert.throws(() => attachMetrics(session), /already attached/);
    return first.close();
  });
});
