/**
 * The OpenTelemetry sink on a real text-mode AgentSession, read back through the OpenTelemetry
 * SDK's own in-memory exporter: the same numbers as `stats()` and `summary()`, under the
 * catalog's names and units.
 */
import { initializeLogger, voice } from '@livekit/agents';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STAT_NAMES } from '../../src/catalog/index.js';
import { FAMILIES, otelInstrument } from '../../src/catalog/families.js';
import { attachMetrics, createMetricsRuntime } from '../../src/index.js';
import { ScriptedLLM } from '../support/scripted-llm.js';

before(() => initializeLogger({ pretty: false, level: 'silent' }));

describe('the OpenTelemetry sink', () => {
  const closers: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const close of closers) await close().catch(() => {});
  });

  it('records the same numbers as stats() and summary(), in seconds, under the catalog names', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    closers.push(() => meterProvider.shutdown());
    const turns = [
      {
        input: 'one',
        content: 'First.',
        ttft: 120,
        duration: 300,
        usage: { completionTokens: 30 },
      },
      { input: 'two', content: 'Second.', ttft: 60, duration: 150, usage: { completionTokens: 9 } },
      { input: 'three', content: 'x', ttft: 90, duration: 200, fail: true as const },
    ];
    const session = new voice.AgentSession({
      llm: new ScriptedLLM(turns, { provider: 'acme', model: 'acme-1' }),
    });
    closers.push(() => session.close());
    const metrics = attachMetrics(session, {
      labels: { agent_name: 'otel-test' },
      otel: { meterProvider },
      runtime: createMetricsRuntime({ hub: false }),
    });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    for (const t of turns)
      await session
        .run({ userInput: t.input })
        .wait()
        .catch(() => {});
    await reader.forceFlush();

    const exported = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const byName = new Map(exported.map((m) => [m.descriptor.name, m]));
    for (const stat of STAT_NAMES) {
      const { name, unit } = otelInstrument(FAMILIES[stat]);
      const metric = byName.get(name) as HistogramMetricData | undefined;
      const stats = metrics.stats(stat);
      // the SDK exports an instrument once it has a data point
      if (stats.count === 0 && metric === undefined) continue;
      assert.ok(metric, `an instrument for ${stat}: ${name}`);
      assert.equal(metric.descriptor.unit, unit);
      assert.equal(metric.dataPointType, DataPointType.HISTOGRAM);
      const points = metric.dataPoints;
      const count = points.reduce((n, p) => n + p.value.count, 0);
      assert.equal(count, stats.count, `${stat} count`);
      if (stats.count === 0) continue;
      const toSeconds = FAMILIES[stat].unit === 'ms' ? 1000 : 1;
      const sum = points.reduce((n, p) => n + (p.value.sum ?? 0), 0);
      assert.ok(Math.abs(sum - (stats.avg! * stats.count) / toSeconds) < 1e-9, `${stat} sum`);
      assert.equal(Math.min(...points.map((p) => p.value.min!)), stats.min! / toSeconds);
      assert.equal(Math.max(...points.map((p) => p.value.max!)), stats.max! / toSeconds);
      for (const p of points) {
        assert.equal(p.attributes.agent_name, 'otel-test', 'constant labels are attributes');
      }
    }
    assert.equal(metrics.stats('ttft').count, 2, 'two answered requests (one failed)');
    assert.ok(byName.has(otelInstrument(FAMILIES.ttft).name), 'the TTFT histogram was exported');

    const requests = byName.get(otelInstrument(FAMILIES.requests).name) as SumMetricData;
    const errors = byName.get(otelInstrument(FAMILIES.errors).name) as SumMetricData;
    const llmCount = (m: SumMetricData) =>
      m.dataPoints.filter((p) => p.attributes.component === 'llm').reduce((n, p) => n + p.value, 0);
    const s = metrics.summary();
    assert.equal(llmCount(requests), s.components.llm.requests);
    assert.equal(llmCount(errors), s.components.llm.errors);
    assert.equal(s.components.llm.errors, 1);
    assert.equal(requests.descriptor.unit, '{request}');
    // usage: completion tokens by provider and model, as in summary().usage
    const tokens = byName.get(otelInstrument(FAMILIES.llm_tokens).name) as SumMetricData;
    const completion = tokens.dataPoints
      .filter((p) => p.attributes.type === 'completion' && p.attributes.model === 'acme-1')
      .reduce((n, p) => n + p.value, 0);
    const entry = s.usage.entries.find((e) => e.component === 'llm' && e.model === 'acme-1');
    assert.equal(completion, entry?.amounts.completionTokens);
    assert.equal(completion, 39);
    assert.equal(tokens.descriptor.unit, '{token}');

    const active = byName.get(FAMILIES.active_sessions.name) as SumMetricData;
    assert.equal(
      active.dataPoints.reduce((n, p) => n + p.value, 0),
      1,
      'one open session',
    );
    await metrics.close();
    await reader.forceFlush();
    const after = exporter
      .getMetrics()
      .at(-1)!
      .scopeMetrics.flatMap((sm) => sm.metrics)
      .find((m) => m.descriptor.name === FAMILIES.active_sessions.name) as SumMetricData;
    assert.equal(
      after.dataPoints.reduce((n, p) => n + p.value, 0),
      0,
      'closed: back to 0',
    );
  });

  it('refuses an otel option that is neither a meter nor a meter provider', () => {
    const session = new voice.AgentSession({ llm: new ScriptedLLM([]) });
    assert.throws(
      () => attachMetrics(session, { otel: { meter: {} } as never }),
      /invalid option `otel`: expected \{ meter \} or \{ meterProvider \}/,
    );
  });
});
