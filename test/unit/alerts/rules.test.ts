import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveAlertRules } from '../../../src/alerts/rules.js';
import { MetricsConfigError } from '../../../src/errors.js';

describe('resolveAlertRules', () => {
  it("starts from the spec's ALERT_RULES", () => {
    const rules = resolveAlertRules(undefined);
    assert.deepEqual(
      rules.map((r) => [r.metric, r.warning, r.critical]),
      [
        ['stt_latency', 1500, 2500],
        ['ttft', 2000, 3500],
        ['error_rate', 5, 10],
      ],
    );
  });

  it('merges user rules over the defaults and lets false disable one', () => {
    const rules = resolveAlertRules({
      ttft: { warning: 800, critical: 1200 },
      stt_latency: false,
      e2e_latency: { warning: 1000, critical: 2000 },
    });
    const byMetric = Object.fromEntries(rules.map((r) => [r.metric, r]));
    assert.equal(byMetric.ttft!.warning, 800);
    assert.equal(byMetric.stt_latency, undefined);
    assert.equal(byMetric.e2e_latency!.critical, 2000);
    assert.equal(byMetric.error_rate!.warning, 5);
  });

  it('treats tokens_per_sec as lower-is-worse', () => {
    const [rule] = resolveAlertRules({
      tokens_per_sec: { warning: 20, critical: 10 },
      stt_latency: false,
      ttft: false,
      error_rate: false,
    });
    assert.equal(rule!.direction, 'below');
    assert.throws(
      () => resolveAlertRules({ tokens_per_sec: { warning: 10, critical: 20 } }),
      /must be above critical/,
    );
  });

  for (const [label, rules, pattern] of [
    ['an unknown metric', { ttfb: { warning: 1, critical: 2 } }, /alerts\.ttfb.*unknown metric/],
    [
      'warning above critical',
      { ttft: { warning: 4000, critical: 3500 } },
      /alerts\.ttft.*warning \(4000\) must be below critical/,
    ],
    ['a non-number', { ttft: { warning: '2s', critical: 3500 } }, /alerts\.ttft\.warning/],
    ['a negative threshold', { ttft: { warning: -1, critical: 3500 } }, /alerts\.ttft\.warning/],
    ['an error rate over 100%', { error_rate: { warning: 50, critical: 150 } }, /percentage/],
    ['a non-object rule', { ttft: 2000 }, /alerts\.ttft/],
  ] as const) {
    it(`rejects ${label} with a MetricsConfigError naming the option`, () => {
      assert.throws(
        () => resolveAlertRules(rules as never),
        (e: unknown) => e instanceof MetricsConfigError && pattern.test(e.message),
      );
    });
  }
});
