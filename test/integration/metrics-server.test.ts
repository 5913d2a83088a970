/**
 * startMetricsServer on loopback with real sessions in the same process: content negotiation,
 * OpenMetrics exemplars from the agent's own OpenTelemetry traces, auth, and failures at start.
 */
import { initializeLogger, telemetry, voice } from '@livekit/agents';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import assert from 'node:assert/strict';
import type * as nodeCrypto from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import {
  MetricsConfigError,
  attachMetrics,
  createMetricsRuntime,
  startMetricsServer,
} from '../../src/index.js';
import { promtoolCheckMetrics } from '../support/prometheus-tools.js';
import type { MetricsServer } from '../../src/index.js';
import { ScriptedLLM } from '../support/scripted-llm.js';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5';

async function runSession(labels: Record<string, string>, ttfts: number[]) {
  const llm = new ScriptedLLM(
    ttfts.map((ttft, i) => ({ input: `q${i}`, content: 'Answer.', ttft, duration: ttft + 30 })),
  );
  const session = new voice.AgentSession({ llm });
  const metrics = attachMetrics(session, { labels });
  await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
  for (let i = 0; i < ttfts.length; i++) await session.run({ userInput: `q${i}` }).wait();
  return { session, metrics };
}

describe('startMetricsServer', () => {
  let server: MetricsServer;
  before(async () => {
    initializeLogger({ pretty: false, level: 'silent' });
    // each test scrapes right after its session's turns: no render reused across tests (the
    // reuse bound has tests of its own in metrics-server-limits.test.ts)
    server = await startMetricsServer({ port: 0, host: '127.0.0.1', renderReuseMs: 0 });
  });
  after(async () => {
    await server.close();
  });

  it('serves the text format by default with the sessions’ samples', async () => {
    const { session, metrics } = await runSession({ agent_name: 'plain' }, [120, 260]);
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const count = text.match(
      /^lk_agents_llm_ttft_seconds_count\{agent_name="plain"[^}]*\} (\d+)$/m,
    );
    assert.equal(count?.[1], '2');
    const le02 = text.match(
      /^lk_agents_llm_ttft_seconds_bucket\{agent_name="plain"[^}]*le="0.2"\} (\d+)$/m,
    );
    assert.equal(le02?.[1], '1', 'one TTFT (120 ms) under 0.2 s, one (260 ms) above');
    assert.match(text, /^lk_agents_requests_total\{agent_name="plain",component="llm",[^}]*\} 2$/m);
    assert.match(text, /^lk_agents_active_sessions [1-9]/m);
    await metrics.close();
    await session.close();
  });

  it('serves OpenMetrics with exemplars carrying the turn’s trace id when tracing is on', async () => {
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    const provider = new BasicTracerProvider();
    telemetry.setTracerProvider(provider);
    try {
      const { session, metrics } = await runSession({ agent_name: 'traced' }, [150]);
      const [turn] = metrics.turns();
      assert.ok(turn?.traceId, 'the turn carries the trace id of its spans');
      const res = await fetch(server.url, { headers: { accept: OPENMETRICS } });
      assert.match(res.headers.get('content-type')!, /^application\/openmetrics-text/);
      const text = await res.text();
      // the TTFT sample itself (150 ms injected; the framework can truncate it to 149 ms, as the
      // other timing tests allow: injected − 1 ms)
      const exemplar = new RegExp(
        `lk_agents_llm_ttft_seconds_bucket\\{agent_name="traced"[^}]*\\} 1 # \\{trace_id="${turn.traceId}"\\} 0\\.1(?:49\\d*|5\\d*)`,
      );
      assert.match(text, exemplar);
      assert.match(text, /^# TYPE lk_agents_requests counter$/m);
      assert.ok(text.endsWith('# EOF\n'));
      // and the text format right after is unchanged by it
      const plain = await (await fetch(server.url)).text();
      assert.match(plain, /^# TYPE lk_agents_requests_total counter$/m);
      assert.doesNotMatch(plain, /trace_id/);
      await metrics.close();
      await session.close();
    } finally {
      telemetry.setTracerProvider(trace.getTracerProvider());
      context.disable();
    }
  });

  it('answers 404 elsewhere and 405 to other methods', async () => {
    assert.equal((await fetch(server.url.replace('/metrics', '/other'))).status, 404);
    assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);
  });
});

describe('startMetricsServer options', () => {
  it('requires the bearer token or basic credentials when auth is set', async () => {
    const bearer = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      hub: false,
      auth: { bearerToken: 's3cret' },
    });
    try {
      const denied = await fetch(bearer.url);
      assert.equal(denied.status, 401);
      assert.equal(denied.headers.get('www-authenticate'), 'Bearer');
      assert.equal(
        (await fetch(bearer.url, { headers: { authorization: 'Bearer wrong' } })).status,
        401,
      );
      assert.equal(
        (await fetch(bearer.url, { headers: { authorization: 'Bearer s3cret' } })).status,
        200,
      );
    } finally {
      await bearer.close();
    }
    const basic = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      hub: false,
      auth: { username: 'prom', password: 'pw' },
    });
    try {
      assert.equal((await fetch(basic.url)).status, 401);
      const ok = await fetch(basic.url, {
        headers: { authorization: `Basic ${Buffer.from('prom:pw').toString('base64')}` },
      });
      assert.equal(ok.status, 200);
    } finally {
      await basic.close();
    }
  });

  it('compares credentials in constant time, on digests of equal length', async () => {
    // Spy on the real crypto.timingSafeEqual (ESM named imports follow the patched builtin).
    const crypto = createRequire(import.meta.url)('node:crypto') as typeof nodeCrypto;
    const original = crypto.timingSafeEqual;
    const calls: Array<[number, number]> = [];
    crypto.timingSafeEqual = (a, b) => {
      calls.push([a.byteLength, b.byteLength]);
      return original(a, b);
    };
    syncBuiltinESMExports();
    const bearer = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      hub: false,
      auth: { bearerToken: 's3cret' },
    });
    try {
      const status = async (authorization: string) =>
        (await fetch(bearer.url, { headers: { authorization } })).status;
      assert.equal(await status('Bearer s3cre'), 401, 'a prefix of the secret');
      assert.equal(await status('Bearer s3cretX'), 401, 'the secret and more');
      assert.equal(await status(`Bearer ${'x'.repeat(5_000)}`), 401);
      assert.equal(await status('Bearer s3cret'), 200);
      assert.equal(calls.length, 4, 'every attempt went through timingSafeEqual');
      for (const [a, b] of calls) assert.equal(a, b, 'equal-length digests');
      assert.ok(
        calls.every(([a]) => a === calls[0]![0]),
        'one digest length for every input',
      );
    } finally {
      crypto.timingSafeEqual = original;
      syncBuiltinESMExports();
      await bearer.close();
    }
  });

  it("serves a user's prom-client registry after the plugin's families, in its content type", async () => {
    for (const openMetrics of [false, true]) {
      const registry = new Registry();
      if (openMetrics) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
      new Counter({ name: 'my_app_calls_total', help: 'Calls.', registers: [registry] }).inc(3);
      const runtime = createMetricsRuntime({ hub: false });
      const own = await startMetricsServer({
        port: 0,
        host: '127.0.0.1',
        hub: false,
        registry,
        runtime,
      });
      try {
        const res = await fetch(own.url);
        assert.equal(res.headers.get('content-type'), registry.contentType);
        const text = await res.text();
        assert.match(text, /^# TYPE lk_agents_requests(_total)? counter$/m, 'the plugin families');
        assert.match(text, /^my_app_calls_total 3$/m, 'the user metric');
        if (openMetrics) assert.equal(text.match(/# EOF/g)?.length, 1, 'one # EOF, at the end');
        // promtool lints the text format (it reads OpenMetrics counters as untyped families)
        if (!openMetrics) {
          const check = promtoolCheckMetrics(text);
          assert.equal(check.status, 0, check.output);
        }
      } finally {
        await own.close();
      }
    }
  });

  it('fails with a clear error when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startMetricsServer({ port, host: '127.0.0.1' }),
        (e: unknown) =>
          e instanceof MetricsConfigError &&
          new RegExp(`port ${port} on 127.0.0.1 is already in use`).test(e.message),
      );
    } finally {
      blocker.close();
    }
  });

  it('rejects bad options before listening', async () => {
    await assert.rejects(startMetricsServer({ port: 70_000 }), /`port`/);
    await assert.rejects(startMetricsServer({ path: 'metrics' }), /`path`/);
    await assert.rejects(startMetricsServer({ auth: { bearerToken: '' } }), /`auth`/);
    await assert.rejects(startMetricsServer({ maxConnections: 0 }), /`maxConnections`/);
    await assert.rejects(startMetricsServer({ renderReuseMs: 60_000 }), /`renderReuseMs`/);
    await assert.rejects(
      startMetricsServer({ buckets: { latency: [0.1, -1] } }),
      /buckets\.latency/,
    );
    await assert.rejects(
      startMetricsServer({ alerts: { ttft: { warning: 5, critical: 1 } } }),
      /alerts\.ttft/,
    );
  });
});

describe('the worker hub socket', () => {
  it('is removed when the worker process exits without close()', async () => {
    const { execFileSync } = await import('node:child_process');
    const { existsSync } = await import('node:fs');
    const script = `
      const { startMetricsServer } = await import(${JSON.stringify(new URL('../../src/index.js', import.meta.url).href)});
      await startMetricsServer({ port: 0, host: '127.0.0.1' });
      const { path } = JSON.parse(process.env.LIVEKIT_AGENTS_METRICS_HUB);
      const { existsSync } = await import('node:fs');
      console.log(JSON.stringify({ path, existed: existsSync(path) }));
      process.exit(0);
    `;
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    const { path, existed } = JSON.parse(out.trim().split('\n').pop()!) as {
      path: string;
      existed: boolean;
    };
    assert.equal(existed, true, 'the socket existed while the worker ran');
    assert.equal(existsSync(path), false, `${path} is left behind`);
  });
});
