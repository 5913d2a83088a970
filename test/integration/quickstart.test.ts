/**
 * The README's quick start, run as written: `npx tsx examples/quickstart.ts` from the
 * repository's root, as the README says (tsx resolves `livekit-agents-metrics` to `src/` through
 * tsconfig's `paths`; test/package installs the packed package). It must exit by itself, print
 * the numbers of a real AgentSession, and serve the same numbers on /metrics. The README shows
 * the file byte for byte, and its pasted output has the lines of a fresh run (numbers aside), so
 * neither can drift from the code.
 *
 * Timing: the FakeLLM waits the injected delays on a loaded machine; a measured latency must be
 * at least the injected one (less 1 ms of truncation) and at most 400 ms above it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const SLACK_MS = 400;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runQuickstart(): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'examples/quickstart.ts'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a hung run is killed with tsx's children
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`the quick start did not exit by itself within 90 s:\n${stdout}${stderr}`));
    }, 90_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The fenced block that follows `after` in `text`. */
function blockAfter(text: string, after: string, lang: string): string {
  const start = text.indexOf(after);
  assert.ok(start >= 0, `README has "${after}"`);
  const open = text.indexOf('```' + lang + '\n', start);
  assert.ok(open >= 0, `a \`\`\`${lang} block after "${after}"`);
  const body = open + lang.length + 4;
  return text.slice(body, text.indexOf('```\n', body));
}

/** A run's output with what changes between runs (ids, port, numbers) replaced. */
const shape = (output: string) =>
  output
    .replace(/speech_[0-9a-f-]+/g, 'speech_<id>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .replace(/\d+(\.\d+)?(e[-+]?\d+)?/g, '<n>');

/** `name: value` from util.inspect's output, e.g. `count: 4`. */
function field(text: string, name: string): number {
  const m = new RegExp(`\\b${name}: (-?[\\d.e+-]+)`).exec(text);
  assert.ok(m, `"${name}" in:\n${text}`);
  return Number(m[1]);
}

function assertNear(observed: number, injected: number, what: string): void {
  assert.ok(
    observed >= injected - 1 && observed <= injected + SLACK_MS,
    `${what}: observed ${observed} ms, injected ${injected} ms`,
  );
}

describe('the quick start (examples/quickstart.ts)', () => {
  let run: Run;
  before(async () => {
    run = await runQuickstart();
  });

  it('exits by itself, successfully', () => {
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  });

  it("prints each turn's end-to-end latency, the tool turn measured the whole way to its answer", () => {
    const e2e = [...run.stdout.matchAll(/^turn speech_[\w-]+: e2e (\d+) ms$/gm)].map((m) =>
      Number(m[1]),
    );
    assert.equal(e2e.length, 3, run.stdout);
    // text turns: the user's turn committed → the answer's first token
    assertNear(e2e[0]!, 250, 'plain turn');
    assertNear(e2e[1]!, 400 + 120 + 300, 'tool turn: TTFT, the tool, the reply');
    assertNear(e2e[2]!, 150, 'plain turn');
  });

  it('prints stats("ttft"), the error rate and the summary with real numbers', () => {
    const ttft = run.stdout.slice(
      run.stdout.indexOf('stats("ttft")'),
      run.stdout.indexOf('errorRate'),
    );
    assert.equal(field(ttft, 'count'), 4);
    assertNear(field(ttft, 'min'), 150, 'ttft min');
    assertNear(field(ttft, 'max'), 400, 'ttft max');
    assert.match(run.stdout, /^errorRate\("llm"\): 0 %$/m);
    const summary = run.stdout.slice(run.stdout.indexOf('summary():'));
    assert.equal(field(summary, 'turns'), 3);
    assert.match(
      summary,
      /llm: \{ requests: 4, errors: 0, cancelled: 0, retries: 0, errorRate: 0 \}/,
    );
    assert.match(summary, /bottleneck: 'llm'/);
  });

  it('serves the same samples on /metrics, in seconds', () => {
    const avgMs = field(run.stdout.slice(run.stdout.indexOf('stats("ttft")')), 'avg');
    const series = (name: string) => {
      const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(run.stdout);
      assert.ok(m, `${name} in:\n${run.stdout}`);
      return Number(m[1]);
    };
    assert.match(run.stdout, /^GET http:\/\/127\.0\.0\.1:\d+\/metrics:$/m);
    assert.equal(series('lk_agents_llm_ttft_seconds_count'), 4);
    assert.ok(
      Math.abs(series('lk_agents_llm_ttft_seconds_sum') - (avgMs * 4) / 1000) < 1e-9,
      'the histogram sum is the stats() average × count, in seconds',
    );
    assert.match(run.stdout, /^lk_agents_requests_total\{[^}]*component="llm"[^}]*\} 4$/m);
    assert.match(run.stdout, /^lk_agents_requests_total\{[^}]*component="function"[^}]*\} 1$/m);
  });

  it('is shown in the README byte for byte, with the output of a real run', () => {
    const readme = read('README.md');
    assert.equal(blockAfter(readme, '## Quick start', 'ts'), read('examples/quickstart.ts'));
    assert.equal(shape(blockAfter(readme, 'Its output', 'text')), shape(run.stdout));
  });
});
