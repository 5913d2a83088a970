/**
 * The exposition as Prometheus's own linter sees it: `promtool check metrics` on a scrape of a
 * real session's metrics (text format; promtool reads the Prometheus text format).
 */
import { initializeLogger, llm as agentsLlm, voice } from '@livekit/agents';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { attachMetrics, startMetricsServer } from '../../src/index.js';
import type { MetricsServer } from '../../src/index.js';
import { promtoolCheckMetrics } from '../support/prometheus-tools.js';
import { ScriptedLLM, toolOutputKey } from '../support/scripted-llm.js';

describe('promtool check metrics', () => {
  let server: MetricsServer;
  before(async () => {
    initializeLogger({ pretty: false, level: 'silent' });
    server = await startMetricsServer({ port: 0, host: '127.0.0.1', hub: false });
  });
  after(() => server.close());

  it('accepts a scrape with every family populated', async () => {
    const llm = new ScriptedLLM(
      [
        { input: 'hi', content: 'Hello.', ttft: 40, duration: 80, usage: { completionTokens: 5 } },
        {
          input: 'tool',
          content: '',
          ttft: 30,
          duration: 40,
          toolCalls: [{ name: 'lookup', args: {} }],
        },
        { input: toolOutputKey('found'), content: 'Found it.', ttft: 30, duration: 50 },
        { input: 'fail', fail: { afterMs: 10 } },
      ],
      { provider: 'acme', model: 'acme-1' },
    );
    const session = new voice.AgentSession({ llm });
    const metrics = attachMetrics(session, { labels: { agent_name: 'lint', region: 'eu' } });
    const tools = {
      lookup: agentsLlm.tool({
        description: 'lookup',
        parameters: z.object({}),
        execute: async () => 'found',
      }),
    };
    await session.start({ agent: new voice.Agent({ instructions: 'x', tools }) });
    for (const userInput of ['hi', 'tool', 'fail'])
      await session
        .run({ userInput })
        .wait()
        .catch(() => {});
    const text = await (await fetch(server.url)).text();
    for (const family of [
      'llm_ttft_seconds',
      'function_execution_seconds',
      'e2e_latency_seconds',
      'llm_tokens_per_second',
    ]) {
      assert.match(text, new RegExp(`^lk_agents_${family}_count\\{`, 'm'), family);
    }
    assert.match(text, /^lk_agents_errors_total\{/m);
    // promtool reads the exposition on stdin and prints lint findings
    const result = promtoolCheckMetrics(text);
    assert.equal(result.status, 0, `promtool: ${result.output}`);
    assert.equal(result.output, '', 'no lint findings');
    await metrics.close();
    await session.close();
  });
});
