/**
 * A job process whose delta cannot go to the hub as it is recorded: a real forked job runs a real
 * AgentSession whose LLM reports a 5 MiB model name (the framework reports whatever the provider
 * plugin says). Every delta of that job carries the name in several series, far past the hub's
 * frame limit. The job must still deliver its turns — with the label value cut as the hub cuts
 * it — rather than re-send one oversize delta forever while nothing of it arrives.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { type MetricsServer, startMetricsServer } from '../../src/index.js';
import { HUB_LIMITS } from '../../src/prometheus/hub/protocol.js';
import { parseExposition, sumOf } from '../support/exposition-parser.js';
import { JobProcess } from '../support/job-process.js';
import { ensurePrometheusTools } from '../support/prometheus-tools.js';

const AGENT = 'huge-model';
let server: MetricsServer;
let job: JobProcess | undefined;

before(async () => {
  server = await startMetricsServer({ port: 0, host: '127.0.0.1', flushMs: 50 });
});
after(async () => {
  job?.kill();
  await job?.exited;
  await server?.close();
});

async function scrapeUntil(what: string, ok: (text: string) => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await (await fetch(server.url)).text();
    if (ok(text)) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting until ${what}; last scrape:\n${text.slice(0, 2_000)}`);
}

const ttftCount = (text: string) =>
  sumOf(parseExposition(text), 'lk_agents_llm_ttft_seconds_count', { agent_name: AGENT });

describe('a job whose deltas are bigger than a hub frame', () => {
  it('still delivers every turn, with the label value cut, and keeps delivering', async () => {
    job = new JobProcess();
    const model = 'M'.repeat(5 * 1024 * 1024);
    job.send({
      type: 'start',
      labels: { agent_name: AGENT },
      ttftMenuMs: [120],
      prime: true,
      model,
    });
    await job.report('started', 1, 60_000);
    for (let i = 0; i < 3; i++) await job.turn(120);
    const text = await scrapeUntil('the three turns arrived', (t) => ttftCount(t) === 3);

    const samples = parseExposition(text).filter((s) => s.labels.agent_name === AGENT);
    const models = new Set(samples.map((s) => s.labels.model).filter((m) => m !== undefined));
    assert.ok(models.size > 0, 'the series carry the model label');
    for (const m of models) {
      assert.ok([...m!].length <= HUB_LIMITS.maxLabelValueLength, `a model label of ${m!.length}`);
      assert.ok(m!.startsWith('MMMM'), 'the value is cut, not replaced');
    }

    // later turns keep arriving: nothing is stuck behind an undeliverable delta
    await job.turn(120);
    const later = await scrapeUntil('the fourth turn arrived', (t) => ttftCount(t) === 4);
    assert.equal(sumOf(parseExposition(later), 'lk_agents_plugin_hub_disconnects_total'), 0);
    const lint = spawnSync(ensurePrometheusTools().promtool, ['check', 'metrics'], {
      input: later,
      encoding: 'utf8',
    });
    assert.equal(lint.status, 0, `promtool: ${lint.stdout}${lint.stderr}`);
    assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '');

    job.send({ type: 'close', exit: 'framework' });
    assert.deepEqual(await job.exited, { code: 0, signal: null });
  });
});
