/**
 * Every public option parser either returns or throws a MetricsConfigError with a bounded
 * message, whatever it is given: prototype keys (own, as JSON.parse makes them, or inherited),
 * objects without a prototype, getters and Proxies that throw, values whose toString throws, huge
 * arrays and objects, deep nesting. And the terminal sanitiser of `watch` lets no unsafe code
 * point through, whatever the string.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { main } from '../../../src/cli/main.js';
import { UsageError } from '../../../src/cli/command.js';
import { parseWatchArgs } from '../../../src/cli/watch-command.js';
import { resolveOptions } from '../../../src/config.js';
import { MAX_LISTED_PROBLEMS, MetricsConfigError } from '../../../src/errors.js';
import { generatePrometheusRuleManifest } from '../../../src/prometheus/rule-manifest.js';
import { generatePrometheusRules } from '../../../src/prometheus/rules.js';
import { resolvePrices } from '../../../src/usage/prices.js';
import { printable, renderWaterfall, safeJson } from '../../../src/view/text-report.js';
import { turn } from '../../fixtures/overlay-page/messages.js';

/** Keys the parsers look for, and keys that name a prototype's members. */
const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'length',
  '0',
  // attachMetrics
  'labels',
  'alerts',
  'alertWindowMs',
  'alertHysteresis',
  'maxTurns',
  'logger',
  'warn',
  'now',
  'prometheus',
  'otel',
  'meter',
  'meterProvider',
  'sinks',
  'runtime',
  'room',
  'publish',
  'topic',
  'intervalMs',
  'destinationIdentities',
  'heardLatency',
  'from',
  'audibleOutput',
  // prices
  'prices',
  'currency',
  'models',
  'component',
  'model',
  'provider',
  'inputPerMillionTokens',
  'perAudioMinute',
  'perThousandCharacters',
  // alert rules and the rules generator
  'ttft',
  'error_rate',
  'e2e_latency',
  'warning',
  'critical',
  'for',
  'groupBy',
  'alertMinRequests',
  'name',
  'namespace',
];

const HUGE_ARRAY: unknown[] = Array.from({ length: 100_000 }, (_, i) => i);
const HUGE_OBJECT: Record<string, unknown> = {};
for (let i = 0; i < 20_000; i++) HUGE_OBJECT[`k${i}`] = i;
let DEEP_OBJECT: unknown = 1;
let DEEP_ARRAY: unknown = 1;
for (let i = 0; i < 100_000; i++) {
  DEEP_OBJECT = { alerts: DEEP_OBJECT, labels: DEEP_OBJECT, models: [DEEP_OBJECT] };
  DEEP_ARRAY = [DEEP_ARRAY];
}

const boom = () => {
  throw new Error('hostile');
};
/** A Proxy whose every trap throws. */
const throwingProxy = (target: object) =>
  new Proxy(target, new Proxy({}, { get: () => boom }) as ProxyHandler<object>);
const revoked = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};
const unprintable = () => ({ toString: boom, valueOf: boom, [Symbol.toPrimitive]: boom });

/** An object with these own keys (`__proto__` too, as JSON.parse makes it), with or without a
 * prototype, or with one that carries the keys instead. */
function objectOf(entries: [string, unknown][], kind: 'plain' | 'null' | 'inherited'): object {
  const own: object = kind === 'null' ? Object.create(null) : {};
  for (const [key, value] of entries) {
    Object.defineProperty(own, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return kind === 'inherited' ? Object.create(own) : own;
}

const leaf = fc.oneof(
  fc.constantFrom(undefined, null, true, false, 0, -1, 1e300, Number.NaN, Infinity, ''),
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.constantFrom('llm', 'tts', 'stt', 'realtime', 'USD', '5m', 'ws://h', 'lk.x', '__proto__'),
  fc.bigInt(),
  fc.constant(Symbol('s')),
  fc.constant(() => 1),
);

/**
 * A value described as plain data and built inside the property (fast-check itself probes and
 * prints the values it generates, and a hostile one would throw there instead).
 */
type Spec =
  | { leaf: unknown }
  | { hostile: (typeof HOSTILE)[number]; key: string }
  | { entries: [string, Spec][]; kind: 'plain' | 'null' | 'inherited' }
  | { items: Spec[] };

const HOSTILE = [
  'huge array',
  'huge object',
  'deep object',
  'deep array',
  'throwing proxy',
  'throwing array proxy',
  'revoked proxy',
  'throwing toString',
  'throwing getter',
  'throwing inherited getter',
] as const;

function build(spec: Spec): unknown {
  if ('leaf' in spec) return spec.leaf;
  if ('items' in spec) return spec.items.map(build);
  if ('entries' in spec)
    return objectOf(
      spec.entries.map(([k, v]) => [k, build(v)]),
      spec.kind,
    );
  switch (spec.hostile) {
    case 'huge array':
      return HUGE_ARRAY;
    case 'huge object':
      return HUGE_OBJECT;
    case 'deep object':
      return DEEP_OBJECT;
    case 'deep array':
      return DEEP_ARRAY;
    case 'throwing proxy':
      return throwingProxy({});
    case 'throwing array proxy':
      return throwingProxy([]);
    case 'revoked proxy':
      return revoked();
    case 'throwing toString':
      return unprintable();
    case 'throwing getter':
      return Object.defineProperty({}, spec.key, { get: boom, enumerable: true });
    case 'throwing inherited getter':
      return Object.create(Object.defineProperty({}, spec.key, { get: boom }));
  }
}

const key = fc.oneof(fc.constantFrom(...KEYS), fc.string());
const { spec: anySpec } = fc.letrec<{ spec: Spec }>((tie) => ({
  spec: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: leaf.map((v) => ({ leaf: v })), weight: 4 },
    {
      arbitrary: fc.record({ hostile: fc.constantFrom(...HOSTILE), key: fc.constantFrom(...KEYS) }),
      weight: 1,
    },
    {
      arbitrary: fc.record({
        entries: fc.array(fc.tuple(key, tie('spec')), { maxLength: 6 }),
        kind: fc.constantFrom('plain', 'null', 'inherited') as fc.Arbitrary<
          'plain' | 'null' | 'inherited'
        >,
      }),
      weight: 3,
    },
    { arbitrary: fc.record({ items: fc.array(tie('spec'), { maxLength: 5 }) }), weight: 2 },
  ),
}));

/** What every parser may throw: a MetricsConfigError with at most 20 problems and a message of
 * bounded length. */
function assertConfigError(error: unknown): true {
  assert.ok(
    error instanceof MetricsConfigError,
    `threw ${error instanceof Error ? `${error.name}: ${error.message}` : typeof error}`,
  );
  assert.ok(error.problems.length <= MAX_LISTED_PROBLEMS);
  assert.ok(error.problemCount >= error.problems.length);
  assert.ok(error.message.length <= 10_000, `a message of ${error.message.length} characters`);
  return true;
}

function returnsOrConfigError(parse: () => unknown): void {
  try {
    parse();
  } catch (error) {
    assertConfigError(error);
  }
}

describe('option parsers on arbitrary input', () => {
  it('resolveOptions (attachMetrics) returns or throws a bounded MetricsConfigError', () => {
    fc.assert(
      fc.property(anySpec, (options) => {
        returnsOrConfigError(() => resolveOptions(build(options) as never));
      }),
      { numRuns: 1000 },
    );
  });

  it('the price table returns or throws a bounded MetricsConfigError', () => {
    // near a price table too, so the checks past the first are reached
    const entry: fc.Arbitrary<Spec> = fc.record({
      entries: fc.array(fc.tuple(fc.constantFrom(...KEYS), anySpec), { maxLength: 6 }),
      kind: fc.constant('plain' as const),
    });
    const table: fc.Arbitrary<Spec> = fc.record({
      entries: fc.tuple(
        fc.tuple(fc.constant('currency'), anySpec),
        fc.tuple(
          fc.constant('models'),
          fc.record({ items: fc.array(fc.oneof(entry, anySpec), { maxLength: 8 }) }),
        ),
      ),
      kind: fc.constant('plain' as const),
    });
    fc.assert(
      fc.property(fc.oneof(anySpec, table), (prices) => {
        returnsOrConfigError(() => resolvePrices(build(prices)));
      }),
      { numRuns: 500 },
    );
  });

  it('the rules generator and the PrometheusRule manifest return or throw a bounded MetricsConfigError', () => {
    fc.assert(
      fc.property(anySpec, anySpec, (options, meta) => {
        returnsOrConfigError(() => generatePrometheusRules(build(options) as never));
        returnsOrConfigError(() => generatePrometheusRuleManifest({}, build(meta) as never));
      }),
      { numRuns: 150 },
    );
  });

  const flags = (names: string[]) =>
    fc.array(
      fc.oneof(
        fc.constantFrom(...names),
        fc.string(),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.constantFrom('Infinity', '1e400', '-0', '0x10', '9'.repeat(400), '=', '--'),
      ),
      { maxLength: 8 },
    );

  it('watch’s argument parser returns or throws a one-line, bounded UsageError', () => {
    const env = { LIVEKIT_API_KEY: 'key', LIVEKIT_API_SECRET: 'secret' };
    const names = ['--url', '--room', '--topic', '--identity', '--json', '--duration', '-h'];
    fc.assert(
      fc.property(flags(names), fc.boolean(), (args, withEnv) => {
        try {
          const parsed = parseWatchArgs(args, withEnv ? env : {});
          if (parsed !== 'help' && parsed.durationMs !== undefined) {
            assert.ok(parsed.durationMs > 0 && parsed.durationMs < 2 ** 31, `${parsed.durationMs}`);
          }
        } catch (error) {
          assert.ok(error instanceof UsageError, String(error));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('the CLI ends with a code and a bounded, control-free stderr for any rules arguments', async () => {
    // --out and --alerts name files: left out, so the property writes and reads none.
    const names = ['--window', '--for', '--group-by', '--min-requests', '--format', '--name'];
    await fc.assert(
      fc.asyncProperty(
        flags([...names, '--namespace', '--label', 'prometheusrule']).filter(
          (args) => !args.some((a) => /^--?(o|a)/.test(a)),
        ),
        async (args) => {
          let stderr = '';
          const code = await main(['rules', ...args], {
            stdout: () => {},
            stderr: (text) => (stderr += text),
          });
          assert.ok([0, 1, 2].includes(code), `exit ${code}`);
          assert.ok(stderr.length <= 12_000, `${stderr.length} characters`);
          // eslint-disable-next-line no-control-regex -- finding control characters is the point
          assert.doesNotMatch(stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
        },
      ),
      { numRuns: 200 },
    );
  });
});

/** The code points `printable` must never let through (its rule, written here independently). */
const FORBIDDEN =
  // eslint-disable-next-line no-misleading-character-class -- listing variation selectors is the point
  /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u{E0000}-\u{E007F}\u180E\u115F\u1160\u3164\uFFA0\uFE00-\uFE0F\u{E0100}-\u{E01EF}\u200B-\u200F\u202A-\u202E\u2066-\u2069]/u;
const UNSAFE_SAMPLES = [
  '\u001b',
  '\u009b',
  '\u202e',
  '\u2066',
  '\u200d',
  '\u{E0041}',
  '\u180E',
  '\u3164',
  '\uFE0F',
  '\u{E0100}',
  '\uD800',
  '\uDC00',
  '\u2028',
  '\u0301',
];

describe('the watch sanitiser on arbitrary strings', () => {
  const strings = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 100 }),
    fc.string({ unit: fc.constantFrom(...UNSAFE_SAMPLES, 'a', 'é', '東', '😀'), maxLength: 300 }),
  );

  it('lets no unsafe code point through, and stays within its length', () => {
    fc.assert(
      fc.property(strings, fc.integer({ min: 1, max: 200 }), (s, max) => {
        const out = printable(s, max);
        const points = [...out];
        assert.ok(points.length <= max, `${points.length} > ${max}`);
        assert.equal(FORBIDDEN.exec(out), null);
        assert.doesNotMatch(out, /\p{M}{5}/u, 'at most four combining marks in a row');
        // what was safe and short is kept as it was
        if (!FORBIDDEN.test(s) && !/\p{M}{5}/u.test(s) && [...s].length <= max) {
          assert.equal(out, s);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('writes JSON with no unsafe code point that reads back as the same string', () => {
    fc.assert(
      fc.property(strings, (s) => {
        const line = safeJson({ s });
        assert.equal(FORBIDDEN.exec(line), null);
        assert.equal(JSON.parse(line).s, s);
      }),
      { numRuns: 1000 },
    );
  });

  it('draws any e2e and stage duration within its width, and never says less than it was', () => {
    const ms = fc.oneof(fc.double(), fc.integer({ min: 0, max: 200_000_000 }));
    fc.assert(
      fc.property(ms, ms, ms, (e2e, offset, duration) => {
        const lines = renderWaterfall(
          turn({
            e2eLatencyMs: e2e,
            stages: [{ stage: 'llm', startAt: 0, offsetMs: offset, durationMs: duration }],
          }),
          48,
        );
        for (const line of lines) assert.ok(line.length < 120, line);
        if (e2e > 86_400_000) assert.match(lines[0]!, /e2e > 86400 s$/);
        if (duration > 86_400_000) assert.match(lines[1]!, /> 86400 s$/);
      }),
      { numRuns: 500 },
    );
  });
});
