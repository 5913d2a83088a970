import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RollingWindow } from '../../../src/stats/rolling-window.js';

describe('RollingWindow', () => {
  it('drops slices older than the window and keeps the recent ones', () => {
    const w = new RollingWindow(10_000, () => ({ n: 0 }), 10);
    w.bucketAt(0).n += 1;
    w.bucketAt(5_000).n += 2;
    assert.equal(sum(w.live(9_999)), 3);
    assert.equal(sum(w.live(10_500)), 2, 'the slice at t=0 expired');
    assert.equal(sum(w.live(16_000)), 0);
  });

  it('never holds more buckets than slices', () => {
    const w = new RollingWindow(1_000, () => ({ n: 0 }), 5);
    for (let t = 0; t < 100_000; t += 7) w.bucketAt(t).n += 1;
    assert.ok([...w.live(100_000)].length <= 5);
  });
});

const sum = (buckets: Iterable<{ n: number }>) => [...buckets].reduce((a, b) => a + b.n, 0);
