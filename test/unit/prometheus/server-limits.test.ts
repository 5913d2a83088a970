/**
 * The network-edge options of startMetricsServer (maxConnections, requestTimeoutMs,
 * keepAliveTimeoutMs, renderReuseMs): defaults, ranges, and no input that makes the parser
 * throw anything but a MetricsConfigError with a short message.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsConfigError } from '../../../src/errors.js';
import { createMetricsRuntime } from '../../../src/runtime.js';
import {
  DEFAULT_SERVER_LIMITS,
  type MetricsServerOptions,
  resolveServerOptions,
} from '../../../src/prometheus/server-options.js';

const runtime = createMetricsRuntime({ hub: false });
const RANGES = {
  maxConnections: [1, 10_000],
  requestTimeoutMs: [100, 300_000],
  keepAliveTimeoutMs: [100, 300_000],
  renderReuseMs: [0, 10_000],
} as const;
const KEYS = Object.keys(RANGES) as (keyof typeof RANGES)[];

const resolve = (o: Record<string, unknown>) =>
  resolveServerOptions({ runtime, ...o } as MetricsServerOptions);

/** Whatever a caller could pass: hostile objects, huge strings and numbers, prototype-free. */
const anyValue = fc.oneof(
  fc.anything(),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.double(),
  fc.constantFrom(Infinity, -Infinity, NaN, 2 ** 53, -0, 1e308),
  fc.string({ minLength: 1_000, maxLength: 100_000 }),
  fc.constant(Object.create(null) as unknown),
  fc.constant({
    toString() {
      throw new Error('hostile toString');
    },
  }),
  fc.constant(JSON.parse('{"__proto__": {"polluted": 1}, "constructor": 1}') as unknown),
);

describe('startMetricsServer network-edge options', () => {
  it('default to 64 connections, 5 s request and keep-alive timeouts, 1 s render reuse', () => {
    assert.deepEqual(resolve({}).limits, {
      maxConnections: 64,
      requestTimeoutMs: 5_000,
      keepAliveTimeoutMs: 5_000,
      renderReuseMs: 1_000,
    });
    assert.deepEqual(resolve({}).limits, { ...DEFAULT_SERVER_LIMITS });
  });

  it('take every integer in range as given', () => {
    const inRange = fc.record(
      Object.fromEntries(
        KEYS.map((k) => [k, fc.integer({ min: RANGES[k][0], max: RANGES[k][1] })]),
      ) as { [K in keyof typeof RANGES]: fc.Arbitrary<number> },
    );
    fc.assert(
      fc.property(inRange, (given) => {
        assert.deepEqual(resolve(given).limits, { ...given });
      }),
      { numRuns: 300 },
    );
  });

  it('reject anything else with a MetricsConfigError naming each bad option, in a short message', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KEYS), anyValue, (key, value) => {
        const [min, max] = RANGES[key];
        const valid =
          value === undefined ||
          (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max);
        let error: unknown;
        try {
          const limits = resolve({ [key]: value }).limits;
          assert.ok(valid, `accepted ${typeof value}`);
          assert.equal(limits[key], value ?? DEFAULT_SERVER_LIMITS[key]);
        } catch (e) {
          error = e;
        }
        if (valid) return;
        assert.ok(error instanceof MetricsConfigError, String(error));
        assert.deepEqual(
          error.problems.map((p) => p.option),
          [key],
        );
        assert.ok(error.message.length < 300, `message of ${error.message.length} characters`);
      }),
      { numRuns: 1_000 },
    );
  });

  it('report every bad option at once, and read none from prototype keys', () => {
    const error = (() => {
      try {
        resolve({ maxConnections: 0, requestTimeoutMs: '5000', renderReuseMs: 1e9 });
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof MetricsConfigError);
    assert.deepEqual(
      error.problems.map((p) => p.option),
      ['maxConnections', 'requestTimeoutMs', 'renderReuseMs'],
    );
    const parsed = JSON.parse('{"__proto__": {"maxConnections": 1}, "constructor": {}}') as object;
    assert.deepEqual(resolve(parsed as Record<string, unknown>).limits, {
      ...DEFAULT_SERVER_LIMITS,
    });
    assert.equal(({} as Record<string, unknown>).maxConnections, undefined, 'no pollution');
  });
});
