/**
 * Property tests of the worker hub's frame reader and frame schema (fast-check): what a job's
 * client encodes, the hub decodes and accepts, whatever the series hold and however the bytes
 * are cut; and bytes or JSON a hostile peer sends never throw out of the reader or the schema,
 * and never make the reader hold more than its frame limit. Pure code: no socket.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import * as v from 'valibot';
import { FrameReader } from '../../../src/prometheus/hub/frame-reader.js';
import {
  DeltaEnvelopeSchema,
  HUB_LIMITS,
  capLabelValue,
  deltaMessageSchema,
  seriesSchema,
} from '../../../src/prometheus/hub/protocol.js';
import { DEFAULT_BUCKETS, FAMILIES } from '../../../src/prometheus/metric-families.js';
import {
  type HistogramSeries,
  type ScalarSeries,
  type StoreSnapshot,
  labelKey,
} from '../../../src/prometheus/series-store.js';

const layout = DEFAULT_BUCKETS;
const schema = deltaMessageSchema(layout);
const MAX = Number.MAX_SAFE_INTEGER;

/** Cuts `text` into pieces at the given fractions of its length. */
function cut(bytes: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    pieces.push(bytes.subarray(start, p));
    start = p;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

function read(pieces: Buffer[], maxFrameBytes?: number) {
  const frames: Array<{ frame: unknown; bytes: number }> = [];
  let oversize = 0;
  let peakBuffered = 0;
  const reader = new FrameReader(
    (frame, bytes) => frames.push({ frame, bytes }),
    () => (oversize += 1),
    maxFrameBytes,
  );
  for (const piece of pieces) {
    reader.push(piece);
    peakBuffered = Math.max(peakBuffered, reader.buffered);
  }
  return { frames, oversize, peakBuffered };
}

// Label values as a job may record them: any string, long ones and lone surrogates included.
const labelValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 120, maxLength: 300 }),
  fc.constantFrom('\uD800', 'a\uDC00b', '', 'é'.repeat(200)),
);
const constLabels = fc.dictionary(
  fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/).filter((n) => !['le', 'quantile'].includes(n)),
  labelValue,
  { maxKeys: 4 },
);
const counterFamily = fc.constantFrom('requests' as const, 'dropped_samples' as const);
const histogramFamily = fc.constantFrom('ttft' as const, 'tokens_per_sec' as const);

function labelsFor(family: keyof typeof FAMILIES) {
  const own = FAMILIES[family].labelNames;
  return fc
    .tuple(fc.array(labelValue, { minLength: own.length, maxLength: own.length }), constLabels)
    .map(([values, extra]) => ({
      ...Object.fromEntries(Object.entries(extra).filter(([n]) => !own.includes(n))),
      ...Object.fromEntries(own.map((n, i) => [n, values[i]!])),
    }));
}

const counterSeries = counterFamily.chain((family) =>
  fc.record({
    family: fc.constant(family),
    series: fc.record({
      labels: labelsFor(family),
      value: fc.oneof(fc.nat(), fc.constant(MAX), fc.double({ min: 0, max: 1e9, noNaN: true })),
    }),
  }),
);
const histogramSeries = histogramFamily.chain((family) => {
  const def = FAMILIES[family];
  const buckets =
    ('buckets' in def && def.buckets === 'throughput' ? layout.throughput : layout.latency).length +
    1;
  return fc.record({
    family: fc.constant(family),
    series: fc
      .record({
        labels: labelsFor(family),
        counts: fc.array(fc.nat(1_000_000), { minLength: buckets, maxLength: buckets }),
        sum: fc.double({ min: -1e12, max: 1e12, noNaN: true }),
      })
      .map(({ labels, counts, sum }) => ({
        labels,
        counts,
        sum,
        count: counts.reduce((a, c) => a + c, 0),
      })),
  });
});

/** What a job's client sends: each series as seriesSchema leaves it (label values cut), in a
 * frame of the client's shape, JSON plus a newline. */
function encode(
  counters: Array<{ family: string; series: ScalarSeries }>,
  histograms: Array<{ family: string; series: HistogramSeries }>,
  seq: number,
): { line: string; sent: StoreSnapshot } {
  const sent: StoreSnapshot = { v: 1, layout, histograms: {}, counters: {} };
  const put = (kind: 'counters' | 'histograms', family: string, series: unknown) => {
    const checked = v.safeParse(seriesSchema(kind, family, layout)!, series);
    assert.ok(checked.success, `the client keeps a ${family} series the schema accepts`);
    const list = ((sent[kind] as Record<string, unknown[]>)[family] ??= []);
    if (list.length < HUB_LIMITS.maxSeriesPerFamily) list.push(checked.output);
  };
  for (const c of counters) put('counters', c.family, c.series);
  for (const h of histograms) put('histograms', h.family, h.series);
  const message = { v: 1, type: 'lkam:delta', job: 'job-1', pid: 7, seq, activeSessions: 1 };
  return { line: `${JSON.stringify({ ...message, delta: sent })}\n`, sent };
}

describe('hub frames: what the client encodes, the hub accepts', () => {
  it('decodes every frame the client can send, whatever its series and however it is cut (numRuns 300)', () => {
    fc.assert(
      fc.property(
        fc.array(counterSeries, { maxLength: 12 }),
        fc.array(histogramSeries, { maxLength: 6 }),
        fc.integer({ min: 1, max: MAX }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        (counters, histograms, seq, at) => {
          const { line, sent } = encode(counters, histograms, seq);
          const bytes = Buffer.from(line, 'utf8');
          assert.ok(bytes.length <= HUB_LIMITS.maxFrameBytes);
          const { frames, oversize } = read(cut(bytes, at));
          assert.equal(oversize, 0);
          assert.equal(frames.length, 1);
          assert.equal(frames[0]!.bytes, bytes.length - 1);
          const decoded = v.safeParse(schema, frames[0]!.frame);
          assert.ok(decoded.success, JSON.stringify(decoded.issues?.[0]?.path?.map((p) => p.key)));
          assert.equal(decoded.output.seq, seq);
          // the same series, label for label and value for value
          for (const kind of ['counters', 'histograms'] as const) {
            // as JSON carries it (-0 arrives as 0)
            const want = JSON.parse(JSON.stringify(sent[kind])) as Record<
              string,
              Array<{ labels: object }>
            >;
            const got = decoded.output.delta[kind] as Record<string, Array<{ labels: object }>>;
            for (const family of Object.keys(want)) {
              assert.deepEqual(
                got[family]!.map((s) => labelKey(s.labels as Record<string, string>)),
                want[family]!.map((s) => labelKey(s.labels as Record<string, string>)),
              );
              assert.deepEqual(got[family], want[family]);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('cuts a label value the hub would cut only once: capping is idempotent (numRuns 1000)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (value) => {
        const once = capLabelValue(value);
        assert.equal(capLabelValue(once), once);
        assert.ok([...once].length <= HUB_LIMITS.maxLabelValueLength);
        assert.doesNotThrow(() => Buffer.from(once, 'utf8'));
        assert.equal(
          Buffer.from(once, 'utf8').toString('utf8'),
          once,
          'valid UTF-16: no lone surrogate',
        );
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('hub frames: hostile input', () => {
  it('reads arbitrary bytes without throwing, within its frame limit, however they are cut (numRuns 1000)', () => {
    const limit = 64;
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            fc.constantFrom('\n', '{"v":1}\n', '{', '\n\n').map((s) => Buffer.from(s)),
          ),
          { maxLength: 20 },
        ),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        (chunks, at) => {
          const whole = Buffer.concat(chunks.map((c) => Buffer.from(c)));
          const byChunks = read(
            chunks.map((c) => Buffer.from(c)),
            limit,
          );
          const recut = read(cut(whole, at), limit);
          for (const r of [byChunks, recut]) {
            assert.ok(r.peakBuffered <= limit, `${r.peakBuffered} bytes held`);
            for (const f of r.frames) assert.ok(f.bytes > 0 && f.bytes <= limit);
          }
          // without an oversize frame, how the bytes were cut changes nothing
          if (byChunks.oversize === 0 && recut.oversize === 0) {
            assert.deepEqual(recut.frames, byChunks.frames);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('validates any JSON value without throwing, and accepts none that is not a delta (numRuns 1000)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const envelope = v.safeParse(DeltaEnvelopeSchema, value, { abortEarly: true });
        const full = v.safeParse(schema, value, { abortEarly: true });
        assert.equal(envelope.success, false);
        assert.equal(full.success, false);
      }),
      { numRuns: 1_000 },
    );
  });

  it('refuses a valid frame with any one field replaced by an arbitrary value, without throwing (numRuns 500)', () => {
    const base = encode(
      [
        {
          family: 'requests',
          series: { labels: { component: 'llm', provider: 'p', model: 'm' }, value: 1 },
        },
      ],
      [],
      1,
    ).line;
    const frame = JSON.parse(base) as Record<string, unknown>;
    fc.assert(
      fc.property(
        fc.constantFrom('v', 'type', 'job', 'pid', 'seq', 'activeSessions', 'delta'),
        fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined)),
        (field, value) => {
          const mutated = { ...frame, [field]: value };
          const result = v.safeParse(schema, mutated, { abortEarly: true });
          const same = isDeepStrictEqual(value, frame[field]);
          // a frame of another version, type or contents is refused
          if (['v', 'type', 'delta'].includes(field) && !same) assert.equal(result.success, false);
          if (result.success) {
            assert.equal(result.output.type, 'lkam:delta');
            assert.ok(Number.isSafeInteger(result.output.seq) && result.output.seq >= 1);
            assert.ok(result.output.activeSessions <= HUB_LIMITS.maxSessionsPerJob);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
