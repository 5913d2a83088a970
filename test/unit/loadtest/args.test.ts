/**
 * loadtest's command line and runLoadTest's options: what is valid becomes bounded options, and
 * anything else, whatever it is, is a MetricsConfigError naming the flag (a property test over
 * arbitrary argument lists and hostile option objects).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MetricsConfigError } from '../../../src/errors.js';
import { parseLoadTestArgs } from '../../../src/loadtest/args.js';
import { LIMITS, resolveLoadTestOptions } from '../../../src/loadtest/options.js';
import type { LoadTestOptions } from '../../../src/loadtest/types.js';

const ENV = {
  LIVEKIT_URL: 'ws://127.0.0.1:7880',
  LIVEKIT_API_KEY: 'devkey',
  LIVEKIT_API_SECRET: 's',
};
const BASE = ['--agent-name', 'support'];

function configError(fn: () => unknown): MetricsConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(
      error instanceof MetricsConfigError,
      `expected a MetricsConfigError, got ${String(error)}`,
    );
    return error;
  }
  assert.fail('expected a MetricsConfigError');
}

describe('loadtest arguments', () => {
  it('takes the server from the environment and ramps 1, 2, 4, 8, 16 by default', () => {
    const parsed = parseLoadTestArgs(BASE, ENV);
    assert.notEqual(parsed, 'help');
    if (parsed === 'help') return;
    assert.equal(parsed.options.url, ENV.LIVEKIT_URL);
    assert.equal(parsed.options.agentName, 'support');
    const resolved = resolveLoadTestOptions(parsed.options);
    assert.deepEqual(resolved.steps, [1, 2, 4, 8, 16]);
    assert.equal(resolved.stepDurationMs, 60_000);
    assert.equal(resolved.budgetP90Ms, undefined);
  });

  it('reads steps, a doubling ramp up to --max-calls, or one level held for --duration', () => {
    const opts = (args: string[]) => {
      const p = parseLoadTestArgs([...BASE, ...args], ENV);
      assert.notEqual(p, 'help');
      return (p as Exclude<typeof p, 'help'>).options;
    };
    assert.deepEqual(opts(['--steps', '1,3,5']).steps, [1, 3, 5]);
    assert.deepEqual(opts(['--max-calls', '12']).steps, [1, 2, 4, 8, 12]);
    assert.deepEqual(opts(['--max-calls', '1']).steps, [1]);
    const hold = opts(['--hold', '6', '--duration', '300']);
    assert.deepEqual(hold.steps, [6]);
    assert.equal(hold.stepDurationMs, 300_000);
    const all = opts([
      '--step-duration',
      '20',
      '--budget-p90',
      '1500',
      '--max-failure-rate',
      '0.1',
      '--wav',
      'a.wav',
      '--wav',
      'b.wav',
      '--answer-timeout',
      '8',
      '--join-timeout',
      '12.5',
      '--pause',
      '0.5-1.5',
      '--seed',
      '42',
      '--room-prefix',
      'lt',
      '--topic',
      't',
    ]);
    assert.deepEqual(all, {
      url: ENV.LIVEKIT_URL,
      apiKey: 'devkey',
      apiSecret: 's',
      agentName: 'support',
      stepDurationMs: 20_000,
      budgetP90Ms: 1500,
      maxFailureRate: 0.1,
      utterances: ['a.wav', 'b.wav'],
      answerTimeoutMs: 8_000,
      agentJoinTimeoutMs: 12_500,
      pauseMs: { min: 500, max: 1500 },
      seed: 42,
      roomPrefix: 'lt',
      topic: 't',
    });
  });

  it('names the flag and says what to change', () => {
    const cases: Array<[string[], Record<string, string | undefined>, string, RegExp]> = [
      [BASE, {}, '--url', /LIVEKIT_URL/],
      [BASE, { LIVEKIT_URL: 'ws://x' }, 'LIVEKIT_API_KEY', /LIVEKIT_API_SECRET/],
      [[], ENV, '--agent-name', /agentName/],
      [[...BASE, '--url', 'localhost:7880'], ENV, '--url', /ws:\/\//],
      [[...BASE, '--steps', '1,0,4'], ENV, '--steps', /1, 500/],
      [[...BASE, '--steps', '1,2', '--hold', '3'], ENV, '--hold', /one of/],
      [[...BASE, '--duration', '30'], ENV, '--duration', /--hold/],
      [[...BASE, '--budget-p90', '1e3'], ENV, '--budget-p90', /number/],
      [[...BASE, '--max-failure-rate', '2'], ENV, '--max-failure-rate', /\[0, 1\]/],
      [[...BASE, '--pause', '2-1'], ENV, '--pause', /min>-<max/],
      [[...BASE, '--agent-name', 'a b'], ENV, '--agent-name', /letters/],
      [[...BASE, '--frobnicate'], ENV, 'arguments', /frobnicate/],
    ];
    for (const [args, env, option, message] of cases) {
      const error = configError(() => parseLoadTestArgs(args, env));
      assert.equal(error.option, option, `${args.join(' ')}: ${error.message}`);
      assert.match(error.problems[0]!.message, message);
    }
    assert.equal(parseLoadTestArgs(['-h'], {}), 'help');
  });

  it('returns bounded options or throws a MetricsConfigError, for any argument list', () => {
    const flags = [
      '--url',
      '--agent-name',
      '--steps',
      '--max-calls',
      '--hold',
      '--duration',
      '--step-duration',
      '--budget-p90',
      '--max-failure-rate',
      '--wav',
      '--answer-timeout',
      '--join-timeout',
      '--pause',
      '--room-prefix',
      '--topic',
      '--seed',
      '--json',
      '--plot',
      '-h',
      '--',
    ];
    const value = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom(
        '0',
        '1',
        '2',
        '16',
        '500',
        '501',
        '1,2,4',
        '0.5-1',
        '1e9',
        '-1',
        'NaN',
        ' 3',
        '99999999999',
        'ws://h',
        '__proto__',
      ),
      fc.integer({ min: -10, max: 100_000 }).map(String),
      fc.double().map(String),
    );
    const arg = fc.oneof(fc.constantFrom(...flags), value);
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 14 }), fc.boolean(), (args, withEnv) => {
        let parsed;
        try {
          parsed = parseLoadTestArgs(args, withEnv ? ENV : {});
        } catch (error) {
          assert.ok(error instanceof MetricsConfigError, String(error));
          assert.ok(error.message.length < 8_000);
          return;
        }
        if (parsed === 'help') return;
        const o = resolveLoadTestOptions(parsed.options);
        assert.ok(o.steps.length >= 1 && o.steps.length <= LIMITS.maxSteps);
        assert.ok(o.steps.every((n) => Number.isInteger(n) && n >= 1 && n <= LIMITS.maxCalls));
        assert.ok(
          o.stepDurationMs >= LIMITS.minStepDurationMs &&
            o.stepDurationMs <= LIMITS.maxStepDurationMs,
        );
        assert.ok(
          o.answerTimeoutMs <= LIMITS.maxTimeoutMs && o.agentJoinTimeoutMs <= LIMITS.maxTimeoutMs,
        );
        assert.ok(o.pauseMs.min <= o.pauseMs.max && o.pauseMs.max <= LIMITS.maxPauseMs);
      }),
      { numRuns: 2_000 },
    );
  });

  it('resolveLoadTestOptions throws only MetricsConfigErrors on hostile option objects', () => {
    const hostile = fc.oneof(
      fc.anything(),
      fc.constant(
        new Proxy(
          {},
          {
            get: () => {
              throw new Error('trap');
            },
          },
        ),
      ),
      fc.record(
        {
          url: fc.oneof(fc.constant('ws://h'), fc.anything()),
          apiKey: fc.oneof(fc.constant('k'), fc.anything()),
          apiSecret: fc.constant('s'),
          agentName: fc.oneof(fc.constant('a'), fc.string()),
          steps: fc.oneof(fc.array(fc.anything(), { maxLength: 40 }), fc.anything()),
          pauseMs: fc.oneof(fc.record({ min: fc.double(), max: fc.double() }), fc.anything()),
          utterances: fc.oneof(fc.array(fc.string(), { maxLength: 70 }), fc.anything()),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(hostile, (options) => {
        try {
          const o = resolveLoadTestOptions(options as LoadTestOptions);
          assert.ok(o.steps.length <= LIMITS.maxSteps);
          assert.ok((o.utterances?.length ?? 0) <= LIMITS.maxUtterances);
        } catch (error) {
          assert.ok(error instanceof MetricsConfigError, String(error));
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
