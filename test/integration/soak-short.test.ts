/**
 * The soak of `npm run soak` (bench/soak-run.ts), short: 8 job processes opening and closing
 * real AgentSessions for 75 s, sampled every 15 s, the first 30 s warm-up. Memory, file
 * descriptors, hub connections and series stay flat by the soak's criterion, and /metrics
 * counts every turn the jobs ran, once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeSample, runSoak } from '../../bench/soak-run.js';

describe('the short soak', () => {
  it('keeps memory, descriptors, connections and series flat and counts every turn', async () => {
    const result = await runSoak({
      durationMs: 75_000,
      sampleMs: 15_000,
      warmupMs: 30_000,
      log: (line) => console.log(line),
    });
    assert.equal(result.samples.length, 5);
    const last = result.samples.at(-1)!;
    console.log(`final: ${JSON.stringify(result.final)}; ${describeSample(last)}`);
    assert.ok(result.final.sessions >= 8 * 2, `${result.final.sessions} sessions ran`);
    assert.ok(result.final.turns > result.final.sessions, `${result.final.turns} turns ran`);
    assert.deepEqual(result.failures, []);
  });
});
