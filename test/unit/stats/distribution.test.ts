import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Distribution, interpolatedQuantile } from '../../../src/stats/distribution.js';
import { seededRandom } from '../../support/timing.js';

describe('Distribution', () => {
  it('reports null fields and a zero count while empty', () => {
    const d = new Distribution(10);
    assert.deepEqual(d.stats(), {
      count: 0,
      avg: null,
      min: null,
      max: null,
      p50: null,
      p90: null,
      p95: null,
      p99: null,
    });
  });

  it('interpolates percentiles linearly between samples, as numpy.percentile does', () => {
    const d = new Distribution(100);
    for (const v of [400, 100, 300, 200]) d.add(v);
    const s = d.stats();
    // numpy.percentile([100,200,300,400], [50,90,95,99]) = 250, 370, 385, 397
    assert.equal(s.p50, 250);
    assert.ok(Math.abs(s.p90! - 370) < 1e-9);
    assert.ok(Math.abs(s.p95! - 385) < 1e-9);
    assert.ok(Math.abs(s.p99! - 397) < 1e-9);
    assert.equal(s.avg, 250);
    assert.equal(s.min, 100);
    assert.equal(s.max, 400);
  });

  it('stays within 1% relative error of the exact percentile once it switches to a sketch', () => {
    const random = seededRandom(42);
    const d = new Distribution(256);
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      // log-normal-ish latencies between ~50 ms and ~5 s
      const v = Math.exp(Math.log(50) + random() * Math.log(100));
      values.push(v);
      d.add(v);
    }
    assert.equal(d.isExact, false);
    values.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const exact = interpolatedQuantile(values, q);
      const got = d.quantile(q)!;
      assert.ok(Math.abs(got - exact) / exact <= 0.01, `q=${q}: ${got} vs ${exact}`);
    }
  });

  it('keeps memory bounded: 100k samples leave no per-sample state behind', () => {
    const d = new Distribution(1024);
    const random = seededRandom(7);
    for (let i = 0; i < 1024; i++) d.add(100 + random() * 900);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) d.add(100 + random() * 900);
    global.gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    assert.equal(d.count, 101_024);
    assert.equal(d.isExact, false);
    // 100k retained doubles would be ≥ 800 kB; the sketch's bins for 100..1000 ms are ~120.
    const sketchBins = (d as unknown as { sketch: { store: { bins: unknown[] } } }).sketch.store
      .bins.length;
    assert.ok(sketchBins < 2048, `bins ${sketchBins}`);
    assert.ok(heapAfter - heapBefore < 800_000, `heap grew ${heapAfter - heapBefore} bytes`);
  });

  it('merges two distributions into the distribution of all their values', () => {
    const a = new Distribution(10);
    const b = new Distribution(10);
    for (let i = 1; i <= 5; i++) a.add(i * 10);
    for (let i = 6; i <= 10; i++) b.add(i * 10);
    a.merge(b);
    assert.equal(a.count, 10);
    assert.equal(a.quantile(0.5), 55);
    assert.equal(a.max, 100);
    // merging past the exact limit folds into the sketch and keeps accuracy
    const c = new Distribution(10);
    for (let i = 11; i <= 20; i++) c.add(i * 10);
    a.merge(c);
    assert.equal(a.isExact, false);
    assert.ok(Math.abs(a.quantile(0.5)! - 105) / 105 <= 0.1);
    assert.equal(a.count, 20);
  });
});
