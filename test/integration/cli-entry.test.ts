/**
 * The CLI's binary entry in a child process: it sets the process exit code from `main`. (What
 * `main` prints and returns for each command is in test/unit/cli.test.ts, in process.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

describe('livekit-agents-metrics binary', () => {
  it('sets the process exit code from the binary entry', () => {
    const entry = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', entry, ...args], { encoding: 'utf8' });
    const ok = run('rules', '--window', '1m');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /lk_agents:llm_ttft_seconds:p90_rate1m/);
    assert.equal(run('nope').status, 2);
  });
});
