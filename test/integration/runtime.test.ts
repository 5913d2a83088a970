/**
 * The metrics runtime is an explicit object: `attachMetrics` and `startMetricsServer` share one,
 * in either order; each test makes a fresh one, and a process has one default, shared even by two
 * copies of the module, or a loud error when they are incompatible.
 */
import { initializeLogger, voice } from '@livekit/agents';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MetricsConfigError,
  attachMetrics,
  createMetricsRuntime,
  defaultMetricsRuntime,
  startMetricsServer,
  type MetricsRuntime,
  type MetricsServer,
} from '../../src/index.js';
import { ScriptedLLM } from '../support/scripted-llm.js';

async function answeredSession(runtime: MetricsRuntime, agent: string) {
  const llm = new ScriptedLLM([{ input: 'q', content: 'Answer.', ttft: 40, duration: 80 }]);
  const session = new voice.AgentSession({ llm });
  const metrics = attachMetrics(session, { labels: { agent_name: agent }, runtime });
  await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
  await session.run({ userInput: 'q' }).wait();
  return { session, metrics };
}

const ttftCount = (text: string, agent: string) =>
  text.match(
    new RegExp(`^lk_agents_llm_ttft_seconds_count\\{agent_name="${agent}"[^}]*\\} (\\d+)$`, 'm'),
  )?.[1];

before(() => initializeLogger({ pretty: false, level: 'silent' }));

describe('the metrics runtime', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });
  const serve = async (runtime: MetricsRuntime): Promise<MetricsServer> => {
    const server = await startMetricsServer({ port: 0, host: '127.0.0.1', hub: false, runtime });
    cleanup.push(() => server.close());
    return server;
  };

  it('serves a session attached before the server started', async () => {
    const runtime = createMetricsRuntime({ hub: false });
    const { session } = await answeredSession(runtime, 'early');
    cleanup.push(() => session.close());
    const server = await serve(runtime);
    const text = await (await fetch(server.url)).text();
    assert.equal(ttftCount(text, 'early'), '1');
    assert.match(text, /^lk_agents_active_sessions 1$/m);
  });

  it('serves a session attached after the server started', async () => {
    const runtime = createMetricsRuntime({ hub: false });
    const server = await serve(runtime);
    const { session } = await answeredSession(runtime, 'late');
    cleanup.push(() => session.close());
    const text = await (await fetch(server.url)).text();
    assert.equal(ttftCount(text, 'late'), '1');
  });

  it('keeps two runtimes apart', async () => {
    const a = createMetricsRuntime({ hub: false });
    const b = createMetricsRuntime({ hub: false });
    const { session } = await answeredSession(a, 'in_a');
    cleanup.push(() => session.close());
    const text = await (await fetch((await serve(b)).url)).text();
    assert.equal(ttftCount(text, 'in_a'), undefined);
    assert.match(text, /^lk_agents_active_sessions 0$/m);
    assert.equal(a.sessions.active, 1);
  });

  it('says clearly when the buckets change after sessions recorded, instead of swallowing it', async () => {
    const runtime = createMetricsRuntime({ hub: false });
    const { session } = await answeredSession(runtime, 'recorded');
    cleanup.push(() => session.close());
    await assert.rejects(
      startMetricsServer({ port: 0, hub: false, runtime, buckets: { latency: [0.1, 1] } }),
      (e: unknown) =>
        e instanceof MetricsConfigError &&
        e.option === 'buckets' &&
        /buckets changed after sessions recorded metrics/.test(e.message),
    );
  });

  it('has one default per process, shared by a second copy of the module', async () => {
    const copy = (await import(`../../src/runtime.js?copy=${Date.now()}`)) as {
      defaultMetricsRuntime: typeof defaultMetricsRuntime;
    };
    assert.notEqual(copy.defaultMetricsRuntime, defaultMetricsRuntime, 'a separate module');
    assert.equal(copy.defaultMetricsRuntime(), defaultMetricsRuntime());
  });

  it('fails loudly when an incompatible copy made the default', async () => {
    const key = Symbol.for('livekit-agents-metrics.default-runtime');
    const slot = globalThis as Record<symbol, unknown>;
    const saved = slot[key];
    slot[key] = { shape: 0 };
    try {
      assert.throws(() => defaultMetricsRuntime(), /two incompatible copies/);
      const session = new voice.AgentSession({ llm: new ScriptedLLM([]) });
      assert.throws(() => attachMetrics(session), MetricsConfigError);
    } finally {
      slot[key] = saved;
    }
  });

  it('reports every invalid option at once', () => {
    const session = new voice.AgentSession({ llm: new ScriptedLLM([]) });
    assert.throws(
      () =>
        attachMetrics(session, {
          maxTurns: -1,
          alertHysteresis: 2,
          labels: { 'bad name': 'x', provider: 'y' },
          alerts: { ttft: { warning: 5, critical: 1 }, nope: { warning: 1, critical: 2 } } as never,
        }),
      (e: unknown) => {
        assert.ok(e instanceof MetricsConfigError);
        assert.deepEqual(e.problems.map((p) => p.option).sort(), [
          'alertHysteresis',
          'alerts.nope',
          'alerts.ttft',
          'labels.bad name',
          'labels.provider',
          'maxTurns',
        ]);
        assert.match(e.message, /6 invalid options/);
        return true;
      },
    );
  });
});
