import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertEvaluator } from '../../../src/alerts/alert-evaluator.js';
import type { ResolvedRule } from '../../../src/alerts/rules.js';

const ttft: ResolvedRule = { metric: 'ttft', warning: 2000, critical: 3500, direction: 'above' };
const observe = (e: AlertEvaluator, value: number | undefined, count = 10, minCount = 1) =>
  e.observe({ rule: ttft, value, count, minCount }, 1000).map((a) => `${a.state}:${a.level}`);

describe('AlertEvaluator', () => {
  it('raises warning, escalates to critical, and clears, each once', () => {
    const e = new AlertEvaluator(0.1);
    assert.deepEqual(observe(e, 1500), []);
    assert.deepEqual(observe(e, 2000), ['raised:warning']);
    assert.deepEqual(observe(e, 2500), []);
    assert.deepEqual(observe(e, 3600), ['raised:critical']);
    assert.deepEqual(
      e.list().map((a) => a.level),
      ['critical'],
    );
    assert.deepEqual(observe(e, 1000), ['cleared:critical']);
    assert.deepEqual(e.list(), []);
  });

  it('does not flap around a threshold (hysteresis)', () => {
    const e = new AlertEvaluator(0.1);
    assert.deepEqual(observe(e, 2001), ['raised:warning']);
    for (const v of [1990, 2010, 1850, 2005, 1801]) assert.deepEqual(observe(e, v), [], `at ${v}`);
    assert.deepEqual(observe(e, 1799), ['cleared:warning']);
  });

  it('keeps an active alert current: its value and window count as last evaluated, its raise and clear points', () => {
    const e = new AlertEvaluator(0.1);
    observe(e, 2412, 3);
    observe(e, 1973, 7);
    const [alert] = e.list();
    assert.deepEqual(
      [
        alert!.value,
        alert!.windowCount,
        alert!.raisedValue,
        alert!.threshold,
        alert!.clearThreshold,
      ],
      [1973, 7, 2412, 2000, 1800],
    );
  });

  it('steps down from critical to warning with a clear and a raise', () => {
    const e = new AlertEvaluator(0.1);
    observe(e, 4000);
    assert.deepEqual(observe(e, 2500), ['cleared:critical', 'raised:warning']);
  });

  it('waits for enough samples before raising, and clears on an empty window', () => {
    const e = new AlertEvaluator(0.1);
    assert.deepEqual(observe(e, 5000, 2, 3), []);
    assert.deepEqual(observe(e, 5000, 3, 3), ['raised:critical']);
    assert.deepEqual(observe(e, undefined, 0, 3), ['cleared:critical']);
  });

  it('treats lower as worse for a below rule', () => {
    const e = new AlertEvaluator(0.1);
    const rule: ResolvedRule = {
      metric: 'tokens_per_sec',
      warning: 20,
      critical: 10,
      direction: 'below',
    };
    const events = e.observe({ rule, value: 8, count: 5, minCount: 1 }, 0);
    assert.equal(events[0]!.level, 'critical');
    // 21 is past the critical level's hysteresis band but still inside the warning's (20..22)
    const stepDown = e.observe({ rule, value: 21, count: 5, minCount: 1 }, 0);
    assert.deepEqual(
      stepDown.map((a) => `${a.state}:${a.level}`),
      ['cleared:critical', 'raised:warning'],
    );
    const cleared = e.observe({ rule, value: 23, count: 5, minCount: 1 }, 0);
    assert.deepEqual(
      cleared.map((a) => `${a.state}:${a.level}`),
      ['cleared:warning'],
    );
  });
});
