/**
 * OpenTelemetry on a real backend: one real text-mode AgentSession recorded through both
 * routings at once — the Prometheus series served by `startMetricsServer` (`/metrics`), and
 * `otel: { meterProvider }` with the OpenTelemetry SDK's OTLP/HTTP (protobuf) exporter sending to
 * a real Prometheus 3's OTLP receiver (`/api/v1/otlp/v1/metrics`, built from its Go module by
 * scripts/ensure-prometheus3.sh). Read back through Prometheus's query API, the OTLP series have
 * the names, labels and values of `/metrics` (histogram buckets, counts and sums in seconds,
 * request, error and usage counters), the numbers of `stats()` and `summary()`, the constant
 * labels, and the instrumentation scope with the package's version.
 */
import { initializeLogger, llm, voice } from '@livekit/agents';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { STAT_NAMES } from '../../src/catalog/index.js';
import { FAMILIES } from '../../src/catalog/families.js';
import {
  type MetricsServer,
  attachMetrics,
  createMetricsRuntime,
  startMetricsServer,
} from '../../src/index.js';
import { type ExpositionSample, parseExposition } from '../support/exposition-parser.js';
import { Prometheus3Server } from '../support/prometheus3-server.js';
import { ScriptedLLM, toolOutputKey } from '../support/scripted-llm.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

const CONST_LABELS = { agent_name: 'otlp-backend', region: 'eu-test' };
/** Labels the OTLP path adds from the resource and the scope: not in `/metrics`. */
const OTLP_ONLY_LABELS = new Set([
  'job',
  'instance',
  'otel_scope_name',
  'otel_scope_version',
  'otel_scope_schema_url',
]);
/** Families `/metrics` has and the OpenTelemetry sink does not record: the process's and the
 * metrics server's own (the sink records a session's). */
const NOT_IN_OTEL = new Set([
  FAMILIES.peak_sessions.name,
  FAMILIES.hub_disconnects.name,
  FAMILIES.render_errors.name,
  FAMILIES.scrape_refused.name,
]);
/** Where `/metrics` leaves the constant labels off today (src/prometheus/series-sink.ts: the
 * turn-taking counters, internal errors and folded function names use fixed label sets; the
 * sessions gauge is the process's), while OTLP carries them on every series. */
const KNOWN_WITHOUT_CONST_LABELS = new Set([
  FAMILIES.active_sessions.name,
  FAMILIES.interruptions.name,
  FAMILIES.backchannels.name,
  FAMILIES.internal_errors.name,
  FAMILIES.folded_functions.name,
]);

/** A series' identity for the comparison: name and labels in order, `le` as a number (the two
 * exposition paths may spell a bound differently, `1` or `1.0`). A label with an empty value is
 * no label to Prometheus (`provider=""` on a tool's requests): it stores none. */
function key(name: string, labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .filter((k) => k !== '__name__' && !OTLP_ONLY_LABELS.has(k) && labels[k] !== '')
    .sort()
    .map((k) => `${k}=${JSON.stringify(k === 'le' ? String(Number(labels[k])) : labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

before(() => initializeLogger({ pretty: false, level: 'silent' }));

describe('OpenTelemetry through OTLP to a real Prometheus 3', () => {
  let prometheus: Prometheus3Server;
  let server: MetricsServer;
  const closers: Array<() => Promise<unknown>> = [];
  before(
    async () => {
      // builds Prometheus 3 on a clean clone unless `pretest:integration` did
      prometheus = await Prometheus3Server.start();
    },
    { timeout: 31 * 60_000 },
  );
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await prometheus?.stop();
  });

  it('gives the numbers of /metrics, stats() and summary(), with the constant labels and the scope version', async (t) => {
    t.diagnostic(`Prometheus ${Prometheus3Server.version()} (Go module)`);
    const runtime = createMetricsRuntime({ hub: false });
    server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      hub: false,
      runtime,
      renderReuseMs: 0,
    });
    closers.push(() => server.close());

    const exporter = new OTLPMetricExporter({ url: prometheus.otlpMetricsUrl });
    // exported on forceFlush below, not on a timer
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    closers.push(() => meterProvider.shutdown());

    const fake = new ScriptedLLM(
      [
        {
          input: 'one',
          content: 'First.',
          ttft: 120,
          duration: 300,
          usage: { completionTokens: 30, promptTokens: 100 },
        },
        {
          input: 'two',
          content: 'Second.',
          ttft: 60,
          duration: 150,
          usage: { completionTokens: 9, promptTokens: 120 },
        },
        {
          input: 'weather?',
          content: '',
          ttft: 40,
          duration: 60,
          toolCalls: [{ name: 'getWeather', args: { city: 'Paris' } }],
        },
        { input: toolOutputKey('sunny'), content: 'It is sunny.', ttft: 70, duration: 150 },
        {
          input: 'book',
          content: '',
          ttft: 40,
          duration: 50,
          toolCalls: [{ name: 'bookTable', args: {} }],
        },
        { input: 'three', content: 'x', ttft: 90, duration: 200, fail: true },
      ],
      {
        provider: 'acme',
        model: 'acme-1',
        fallback: { content: 'Sorry.', ttft: 50, duration: 80 },
      },
    );
    const session = new voice.AgentSession({ llm: fake });
    closers.push(() => session.close());
    let sinkCalls = 0;
    const metrics = attachMetrics(session, {
      labels: CONST_LABELS,
      otel: { meterProvider },
      runtime,
      // a user sink that throws once: contained, counted in internal_errors on both routings
      sinks: [
        {
          turn: () => {
            if (sinkCalls++ === 0) throw new Error('a user sink failing');
          },
        },
      ],
    });
    closers.push(() => metrics.close());
    await session.start({
      agent: new voice.Agent({
        instructions: 'x',
        tools: {
          getWeather: llm.tool({
            description: 'Weather for a city',
            parameters: z.object({ city: z.string() }),
            execute: async () => {
              await new Promise((r) => setTimeout(r, 40));
              return 'sunny';
            },
          }),
          bookTable: llm.tool({
            description: 'Always fails',
            parameters: z.object({}),
            execute: async () => {
              await new Promise((r) => setTimeout(r, 10));
              throw new Error('no tables');
            },
          }),
        },
      }),
    });
    for (const userInput of ['one', 'two', 'weather?', 'book', 'three']) {
      await session
        .run({ userInput })
        .wait()
        .catch(() => {}); // a failed request fails its run; the metrics count it
    }

    // the same moment on both routings: nothing records between the export and the scrape
    await reader.forceFlush();
    const scraped = parseExposition(await (await fetch(server.url)).text()).filter((s) =>
      s.name.startsWith('lk_agents_'),
    );
    const stats = Object.fromEntries(STAT_NAMES.map((s) => [s, metrics.stats(s)]));
    const summary = metrics.summary();

    // everything the plugin's scope sent, as Prometheus stored it
    const stored = await prometheus.query(
      `{__name__=~"lk_agents_.+", otel_scope_name="${pkg.name}"}`,
    );
    assert.ok(stored.length > 0, `no OTLP series in Prometheus; its log:\n${prometheus.log}`);

    // 1. the instrumentation scope: the package's name and version on every series
    for (const s of stored) {
      assert.equal(
        s.metric.otel_scope_version,
        pkg.version,
        `scope version of ${s.metric.__name__}`,
      );
    }
    // 2. the constant labels on every OTLP series
    for (const s of stored) {
      for (const [k, v] of Object.entries(CONST_LABELS)) {
        assert.equal(s.metric[k], v, `${k} on ${key(s.metric.__name__!, s.metric)}`);
      }
    }

    // 3. /metrics and the OTLP series: same names, labels and values
    const otlp = new Map(
      stored.map((s) => [key(s.metric.__name__!, s.metric), Number(s.value[1])]),
    );
    const withoutConst = new Set<string>();
    const scrapedKeys = new Set<string>();
    const onlyScraped: ExpositionSample[] = [];
    let compared = 0;
    for (const s of scraped) {
      const family = s.name.replace(/_(bucket|sum|count)$/, '');
      if (NOT_IN_OTEL.has(family)) continue;
      const labels = { ...s.labels };
      if (!Object.entries(CONST_LABELS).every(([k, v]) => labels[k] === v)) {
        withoutConst.add(family);
        Object.assign(labels, CONST_LABELS);
      }
      const k = key(s.name, labels);
      scrapedKeys.add(k);
      const value = otlp.get(k);
      if (value === undefined) {
        onlyScraped.push(s);
        continue;
      }
      assert.ok(close(value, s.value), `${k}: OTLP ${value}, /metrics ${s.value}`);
      compared += 1;
    }
    // an OpenTelemetry instrument exports a series once it has recorded into it; /metrics
    // also shows series still at 0 (the fixed health series, histograms with no sample yet)
    for (const s of onlyScraped) {
      assert.equal(s.value, 0, `${key(s.name, s.labels)} = ${s.value} in /metrics, not in OTLP`);
    }
    const les = (names: string[]) => [...new Set(names)].sort().join(' ');
    const scrapedLe = les(scraped.flatMap((s) => (s.labels.le ? [s.labels.le] : [])));
    const storedLe = les(stored.flatMap((s) => (s.metric.le ? [s.metric.le] : [])));
    if (scrapedLe !== storedLe) {
      t.diagnostic(`bucket bounds spelled differently: /metrics ${scrapedLe}; OTLP ${storedLe}`);
    }
    const onlyOtlp = [...otlp.keys()].filter((k) => !scrapedKeys.has(k));
    assert.deepEqual(onlyOtlp, [], 'OTLP series that /metrics does not have');
    t.diagnostic(`${compared} series compared, equal on both routings`);
    t.diagnostic(
      `/metrics families without the constant labels: ${[...withoutConst].sort().join(', ') || 'none'}`,
    );
    for (const family of withoutConst) {
      assert.ok(
        KNOWN_WITHOUT_CONST_LABELS.has(family),
        `${family} lost the constant labels in /metrics`,
      );
    }

    // 4. the numbers of stats() and summary(), read from Prometheus
    const one = async (expr: string) => {
      const result = await prometheus.query(expr);
      assert.equal(result.length, 1, `${expr}: ${result.length} results`);
      return Number(result[0]!.value[1]);
    };
    const sel = `agent_name="${CONST_LABELS.agent_name}",region="${CONST_LABELS.region}"`;
    const seenStats: string[] = [];
    for (const stat of STAT_NAMES) {
      const family = FAMILIES[stat];
      const st = stats[stat]!;
      if (st.count === 0) continue;
      seenStats.push(stat);
      const count = await one(`sum(${family.name}_count{${sel}})`);
      assert.equal(count, st.count, `${stat}: count`);
      const sum = await one(`sum(${family.name}_sum{${sel}})`);
      const inUnit = family.unit === 'ms' ? (st.avg! * st.count) / 1000 : st.avg! * st.count;
      assert.ok(close(sum, inUnit), `${stat}: sum ${sum}, stats() ${inUnit}`);
      t.diagnostic(`${family.name}: count ${count}, sum ${sum}`);
    }
    assert.deepEqual(
      seenStats.sort(),
      ['e2e_latency', 'function_execution', 'tokens_per_sec', 'ttft', 'ttlt'],
      'the stats this session recorded',
    );

    for (const component of ['llm', 'function'] as const) {
      const c = summary.components[component];
      const requests = await one(`sum(${FAMILIES.requests.name}{${sel},component="${component}"})`);
      const errors = await one(`sum(${FAMILIES.errors.name}{${sel},component="${component}"})`);
      assert.equal(requests, c.requests, `${component} requests`);
      assert.equal(errors, c.errors, `${component} errors`);
      t.diagnostic(`${component}: requests ${requests}, errors ${errors}`);
    }
    assert.equal(summary.components.llm.errors, 1, 'the failed LLM request');
    assert.equal(summary.components.function.errors, 1, 'the failed tool');
    assert.equal(
      await one(`${FAMILIES.errors.name}{${sel},component="llm",provider="acme",model="acme-1"}`),
      1,
    );

    const usage = summary.usage.entries.find((e) => e.component === 'llm' && e.model === 'acme-1');
    const tokens = async (type: string) =>
      one(`sum(${FAMILIES.llm_tokens.name}{${sel},provider="acme",model="acme-1",type="${type}"})`);
    assert.equal(await tokens('completion'), usage?.amounts.completionTokens);
    assert.equal(await tokens('completion'), 39);
    assert.equal(await tokens('prompt'), usage?.amounts.promptTokens);
    t.diagnostic(
      `llm tokens: completion ${await tokens('completion')}, prompt ${await tokens('prompt')}`,
    );

    assert.equal(await one(`${FAMILIES.active_sessions.name}{${sel}}`), 1, 'one open session');
    assert.equal(summary.health.internalErrors, 1, 'the throwing sink, contained');
    assert.equal(await one(`sum(${FAMILIES.internal_errors.name}{${sel}})`), 1);

    // a tool's latency under its name and outcome, the same on both routings
    assert.equal(
      await one(
        `${FAMILIES.function_execution.name}_count{${sel},function="getWeather",outcome="ok"}`,
      ),
      1,
    );
  });
});
