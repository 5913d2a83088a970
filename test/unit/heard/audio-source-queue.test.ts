import { AudioFrame, AudioSource } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queuedInSource } from '../../../src/util/audio-source-queue.js';

const RATE = 16_000;
const tenMs = () => new AudioFrame(new Int16Array(RATE / 100), RATE, 1, RATE / 100);

/** Hands `n` 10 ms frames to `source` as fast as it takes them. */
async function push(source: AudioSource, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await source.captureFrame(tenMs());
}

describe('queuedInSource: when a frame handed to an rtc-node AudioSource starts leaving', () => {
  it('is at once for a source without a queue, however fast frames come', async () => {
    const source = new AudioSource(RATE, 1, 0);
    try {
      await push(source, 30);
      assert.equal(queuedInSource(source), 0);
    } finally {
      await source.close();
    }
  });

  it('is after the audio queued ahead of it in a queued source', async () => {
    const source = new AudioSource(RATE, 1, 500);
    try {
      assert.equal(queuedInSource(source), 0, 'nothing queued yet');
      // 300 ms handed over at once: the source sends 10 ms per 10 ms
      const t = performance.now();
      await push(source, 30);
      const ahead = queuedInSource(source)!;
      const elapsed = performance.now() - t;
      assert.ok(
        ahead <= 300 && ahead >= 300 - elapsed - 15,
        `${ahead} ms queued ahead, ${elapsed.toFixed(1)} ms after 300 ms was handed over`,
      );
      // and it drains as time passes
      const t1 = performance.now();
      await new Promise((r) => setTimeout(r, 100));
      const later = queuedInSource(source)!;
      const waited = performance.now() - t1;
      assert.ok(
        Math.abs(ahead - later - waited) <= 15,
        `${later} ms left ${waited.toFixed(1)} ms after ${ahead} ms`,
      );
    } finally {
      await source.close();
    }
  });

  it("takes the account of a source shaped like rtc-node's, and 0 for one without a queue", () => {
    assert.equal(queuedInSource({ queuedDuration: 0 }), 0);
    assert.equal(queuedInSource({ queueSize: 1000, queuedDuration: 420 }), 420);
    assert.equal(queuedInSource({ queueSize: 0, queuedDuration: 50 }), 0);
  });

  it('is unknown when the source has no queue account it can read', () => {
    for (const [i, source] of [
      undefined,
      null,
      {},
      { queuedDuration: Number.NaN },
      { queuedDuration: -5 },
      { queuedDuration: '20' },
      { queuedDuration: Infinity },
      {
        get queuedDuration(): number {
          throw new Error('closed');
        },
      },
    ].entries()) {
      assert.equal(queuedInSource(source), undefined, `source ${i}`);
    }
  });
});
