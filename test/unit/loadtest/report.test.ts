/**
 * A step's numbers and what limited it, the capacity table, and the plot.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallResult } from '../../../src/loadtest/caller.js';
import { renderPlot } from '../../../src/loadtest/plot.js';
import { quantile, renderCapacityTable, summarizeStep } from '../../../src/loadtest/report.js';
import type { LoadTestResult, LoadTestTurn } from '../../../src/loadtest/types.js';

const quietGenerator = { eventLoopLagP99Ms: 3, cpuPercent: 20, machineCpuPercent: 60 };

function call(heard: number[], extra: Partial<CallResult> = {}): CallResult {
  const turns: LoadTestTurn[] = heard.map((h, turn) => ({
    call: 0,
    turn,
    room: 'r',
    outcome: 'answered',
    heardMs: h,
    agent: { heardMs: h, uplinkMs: 60, downlinkMs: 50, agentMs: h - 110 },
  }));
  return {
    agentUp: true,
    noAgent: false,
    turns,
    late: 0,
    misattributed: 0,
    agentReports: turns.length,
    dispatchToAgentMs: 700,
    ...extra,
  };
}

describe('load test report', () => {
  it('quantiles by nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(xs, 0.5), 50);
    assert.equal(quantile(xs, 0.9), 90);
    assert.equal(quantile(xs, 0.99), 99);
    assert.equal(quantile([], 0.5), null);
  });

  it("summarizes a step's calls, with the agent's own split", () => {
    const step = summarizeStep(
      2,
      20_000,
      [call([1_000, 1_200]), call([1_100, 1_400])],
      quietGenerator,
      2_000,
    );
    assert.equal(step.turns, 4);
    assert.equal(step.answered, 4);
    assert.deepEqual(step.heardMs, { p50: 1_100, p90: 1_400, p99: 1_400, max: 1_400, count: 4 });
    assert.deepEqual(step.agentBreakdownMs, { uplink: 60, agent: 990, downlink: 50, turns: 4 });
    assert.equal(step.limit, 'none');
    assert.deepEqual(
      step.perTurn.map((t) => t.call),
      [0, 0, 1, 1],
    );
  });

  it('says what limited a step: the generator first, then the worker, then the agent', () => {
    const busy = { ...quietGenerator, eventLoopLagP99Ms: 120 };
    assert.equal(summarizeStep(1, 1, [call([900])], busy, undefined).limit, 'generator');
    const noAgent = call([], { agentUp: false, noAgent: true, error: 'no agent joined' });
    assert.equal(
      summarizeStep(2, 1, [call([900]), noAgent], quietGenerator, undefined).limit,
      'worker',
    );
    assert.equal(summarizeStep(1, 1, [call([3_000])], quietGenerator, 2_000).limit, 'agent');
    const unanswered = call([900]);
    unanswered.turns.push({ call: 0, turn: 1, room: 'r', outcome: 'unanswered' });
    const step = summarizeStep(1, 1, [unanswered], quietGenerator, undefined);
    assert.equal(step.limit, 'agent');
    assert.equal(step.unanswered, 1);
  });

  const result: LoadTestResult = {
    v: 1,
    startedAt: Date.UTC(2026, 0, 2, 3, 4),
    endedAt: Date.UTC(2026, 0, 2, 3, 9),
    agentName: 'sup<port>&"',
    stoppedBy: 'budget',
    reason: 'heard p90 2400 ms at 4 calls is over the budget of 2000 ms',
    machine: { cores: 2, cpu: 'Test CPU', platform: 'linux' },
    steps: [
      summarizeStep(1, 20_000, [call([1_000, 1_100])], quietGenerator, 2_000),
      summarizeStep(2, 20_000, [call([1_200]), call([1_300])], quietGenerator, 2_000),
      summarizeStep(
        4,
        20_000,
        [
          call([2_400]),
          call([2_300]),
          call([2_200]),
          call([], { error: 'call failed: x', agentUp: false }),
        ],
        quietGenerator,
        2_000,
      ),
    ],
  };

  it('prints a capacity table with a row per step and why the run stopped', () => {
    const text = renderCapacityTable(result);
    const lines = text.trim().split('\n');
    assert.match(
      lines[1]!,
      /calls +up +turns +heard p50 +p90 +p99 +unanswered +late +errors +uplink +agent +downlink/,
    );
    assert.match(lines[2]!, /^ +1 +1 +2 +1000 +1100 +1100 +0 +0 +0 +60 +\d+ +50 +700 /);
    assert.match(lines[4]!, /^ +4 +3 +3 +2300 +2400 +2400 +0 +0 +1 /);
    assert.match(text, /stopped: budget: heard p90 2400 ms/);
    assert.match(text, /step 4: call failed: x/);
  });

  it('plots p50, p90 and p99 per step as a self-contained SVG, its text escaped', () => {
    const svg = renderPlot(result, 2_000);
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((svg.match(/<polyline/g) ?? []).length, 3);
    assert.equal((svg.match(/<circle/g) ?? []).length, 9);
    assert.match(svg, /p90 budget/);
    assert.match(svg, /sup&lt;port&gt;&amp;&quot;/);
    assert.doesNotMatch(svg, /<script|href=/);
    assert.match(svg, /1 failed/);
  });
});
