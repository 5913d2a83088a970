/**
 * `examples/openai-agent.ts` (`npm run demo:openai`) without OPENAI_API_KEY: the real OpenAI
 * plugins against the local OpenAI-compatible server, run as a user runs it. It must exit by
 * itself, and the usage it reports (summary and /metrics) must equal what the server billed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function runExample(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.OPENAI_API_KEY;
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'examples/openai-agent.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a hung run is killed with tsx's children
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`the example did not exit within 90 s:\n${stdout}${stderr}`));
    }, 90_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const jsonAfter = (text: string, prefix: string) => {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  assert.ok(line, `a "${prefix}" line in:\n${text}`);
  return JSON.parse(line.slice(prefix.length));
};

describe('examples/openai-agent.ts against the local OpenAI-compatible server', () => {
  let run: Awaited<ReturnType<typeof runExample>>;
  before(async () => {
    run = await runExample();
  });

  it('exits by itself after two priced turns', () => {
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^local OpenAI-compatible server at http:\/\/127\.0\.0\.1:\d+\/v1$/m);
    const turns = run.stdout.split('\n').filter((l) => l.startsWith('turn: '));
    assert.equal(turns.length, 2, run.stdout);
    for (const t of turns) assert.match(t, /cost \d\S* USD, llm \{.*\}, tts \{.*\}/);
  });

  it('reports the usage the server billed, in summary() and on /metrics', () => {
    const usage = jsonAfter(run.stdout, 'summary().usage: ');
    const billed = jsonAfter(run.stdout, 'local server billed: ');
    const llm = usage.entries.find((e: { component: string }) => e.component === 'llm');
    const tts = usage.entries.find((e: { component: string }) => e.component === 'tts');
    assert.equal(llm.amounts.promptTokens, billed.promptTokens);
    assert.equal(llm.amounts.completionTokens, billed.completionTokens);
    assert.equal(tts.amounts.ttsCharacters, billed.ttsCharacters);
    assert.match(run.stdout, new RegExp(`tts requests: ${billed.ttsRequests}$`, 'm'));
    const expectedCost =
      (billed.promptTokens * 0.15 + billed.completionTokens * 0.6) / 1e6 +
      (billed.ttsCharacters / 1000) * 0.015;
    assert.equal(usage.currency, 'USD');
    assert.ok(Math.abs(usage.cost - expectedCost) < 1e-12, `${usage.cost} vs ${expectedCost}`);
    const series = (re: RegExp) => Number(re.exec(run.stdout)?.[1]);
    assert.equal(
      series(/^lk_agents_llm_usage_tokens_total\{[^}]*type="prompt",[^}]*\} (\S+)$/m),
      billed.promptTokens,
    );
    assert.equal(series(/^lk_agents_tts_characters_total\{[^}]*\} (\S+)$/m), billed.ttsCharacters);
  });
});
