/**
 * The committed examples stay in step with the code: the Grafana dashboard imports with one data
 * source input and has the promised panels. (The rules file is generated, never committed:
 * `npx livekit-agents-metrics rules > rules.yml`; its content follows the catalog.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('examples', () => {
  it('the Grafana dashboard imports with its Prometheus data source as an input', () => {
    const dashboard = JSON.parse(read('examples/grafana/livekit-agents-dashboard.json'));
    assert.deepEqual(
      dashboard.__inputs.map((i: { name: string; type: string; pluginId: string }) => [
        i.name,
        i.type,
        i.pluginId,
      ]),
      [['DS_PROMETHEUS', 'datasource', 'prometheus']],
    );
    assert.equal(dashboard.id, null, 'an exported dashboard has no id');
    assert.ok(dashboard.uid && dashboard.title);
    // Every data source reference is the input, so the import asks for one data source.
    const sources: unknown[] = [];
    JSON.stringify(dashboard, (key, value) => {
      if (key === 'datasource') sources.push(value);
      return value;
    });
    assert.ok(sources.length > 0);
    for (const ds of sources) assert.deepEqual(ds, { type: 'prometheus', uid: '${DS_PROMETHEUS}' });

    type Panel = {
      id: number;
      type: string;
      title: string;
      gridPos: { x: number; y: number; w: number; h: number };
      targets: { refId: string; expr: string; format?: string }[];
    };
    const panels: Panel[] = dashboard.panels;
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'unique panel ids');
    for (const p of panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
      assert.ok(p.targets.length > 0, `${p.title} has queries`);
      const refIds = p.targets.map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${p.title}: unique refIds`);
    }
    const byTitle = (title: string) => panels.find((p) => p.title === title);
    // What the dashboard promises: percentiles per component, the e2e heatmap, error rate per
    // component, the bottleneck, sessions.
    for (const [title, family] of [
      ['STT latency', 'lk_agents_stt_latency_seconds'],
      ['LLM time to first token', 'lk_agents_llm_ttft_seconds'],
      ['LLM time to last token', 'lk_agents_llm_ttlt_seconds'],
      ['TTS latency', 'lk_agents_tts_latency_seconds'],
      ['End-to-end latency', 'lk_agents_e2e_latency_seconds'],
    ]) {
      const exprs = byTitle(title!)!.targets.map((t) => t.expr);
      for (const q of ['0.5', '0.9', '0.95']) {
        assert.ok(
          exprs.some((e) => e.startsWith(`histogram_quantile(${q},`) && e.includes(family!)),
          `${title} p${q}`,
        );
      }
    }
    const heatmap = byTitle('End-to-end latency distribution')!;
    assert.equal(heatmap.type, 'heatmap');
    assert.equal(heatmap.targets[0]!.format, 'heatmap');
    assert.match(heatmap.targets[0]!.expr, /lk_agents_e2e_latency_seconds_bucket/);
    assert.match(byTitle('Error rate by component')!.targets[0]!.expr, /sum by \(component\)/);
    const bottleneck = byTitle('p90 by component (bottleneck first)')!;
    assert.equal(bottleneck.type, 'bargauge');
    assert.match(bottleneck.targets[0]!.expr, /^sort_desc\(/);
    assert.match(byTitle('Bottleneck')!.targets[0]!.expr, /^topk\(1, sort_desc\(/);
    assert.match(byTitle('Active sessions')!.targets[0]!.expr, /lk_agents_active_sessions/);
  });
});
