/**
 * Nothing the plugin calls can hurt the agent: a user's async sink or listener that rejects, an
 * OpenTelemetry meter that throws or gives no instruments, a room whose on() throws. Each runs in
 * a child process of its own (test/fixtures/contained-failures.ts) as a user's agent would, since
 * an unhandled rejection ends a Node process with exit code 1, which only another process sees.
 * Before the guard, each of these four ended the agent's process with exit code 1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

interface FixtureResult {
  answered: number;
  turns: number;
  health: { internalErrors: number; containedErrors: Record<string, number> };
}

function runFixture(variant: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/contained-failures.ts', variant],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

async function agentSurvives(variant: string): Promise<FixtureResult> {
  const { code, out, err } = await runFixture(variant);
  assert.equal(code, 0, `the agent's process exited with ${code}:\n${err.slice(-2000)}`);
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as FixtureResult;
  assert.equal(result.answered, 3, 'every turn answered');
  assert.equal(result.turns, 3, 'every turn measured');
  return result;
}

describe(
  'containment: what the plugin calls cannot end or break the agent',
  { concurrency: 4 },
  () => {
    it('an async sink and an on("sample") listener that reject are counted, not fatal', async () => {
      const { health } = await agentSurvives('async-sink');
      // three turns: a rejected turn() per turn, a rejected sample() and listener per sample
      assert.ok((health.containedErrors['sink:rejected'] ?? 0) >= 6, JSON.stringify(health));
      assert.ok((health.containedErrors['listener:rejected'] ?? 0) >= 3, JSON.stringify(health));
      assert.equal(
        health.internalErrors,
        Object.values(health.containedErrors).reduce((a, b) => a + b, 0),
      );
    });

    it('a meter whose instruments throw leaves OpenTelemetry out; attachMetrics does not throw', async () => {
      const { health } = await agentSurvives('meter-throws');
      assert.equal(health.containedErrors['meter:threw'], 1, JSON.stringify(health));
    });

    it('a meter that returns no instruments is counted as invalid and left out', async () => {
      const { health } = await agentSurvives('meter-empty');
      assert.equal(health.containedErrors['meter:invalid'], 1, JSON.stringify(health));
    });

    it('a room whose on() throws leaves the publisher out; the session is still measured', async () => {
      const { health } = await agentSurvives('room-throws');
      assert.ok((health.containedErrors['room:threw'] ?? 0) >= 1, JSON.stringify(health));
    });
  },
);
