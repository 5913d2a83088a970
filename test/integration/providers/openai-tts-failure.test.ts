/**
 * With `@livekit/agents` 1.9, an OpenAI TTS request that fails (HTTP 500 here) leaves an
 * unhandled promise rejection behind, which ends a process that has no `unhandledRejection`
 * handler (Node's default). Each case runs the fixture in its own process; docs/UPSTREAM.md
 * explains the two framework lines involved and what a user should do.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(
  new URL('../../fixtures/providers/tts-http-error.ts', import.meta.url),
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...process.execArgv, FIXTURE, ...args],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

function report(r: Run) {
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    served: number[];
    tts: { requests: number; errors: number; retries: number };
    rejections: string[];
  };
}

describe('an OpenAI TTS answering HTTP 500 (framework 1.9)', () => {
  it("ends a process without a rejection handler: the stream adapter's re-emitted error", async () => {
    const r = await run('framework-adapter');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_UNHANDLED_ERROR/);
    assert.match(r.stderr, /StreamAdapter\.emit/);
  });

  it('still ends it when the user wraps the TTS: the failed request is itself unhandled', async () => {
    const r = await run('own-adapter');
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr, /ERR_UNHANDLED_ERROR/);
    assert.match(r.stderr, /InternalServerError: 500/);
  });

  it('is survived with a rejection handler, and counted as one failed TTS request', async () => {
    for (const mode of ['framework-adapter', 'own-adapter']) {
      const out = report(await run(mode, 'with-handler'));
      assert.deepEqual(out.served, [500], mode);
      assert.deepEqual(
        [out.tts.requests, out.tts.errors, out.tts.retries],
        [out.served.length, 1, 0],
        mode,
      );
      assert.equal(out.rejections.length, 1, mode);
    }
  });
});
