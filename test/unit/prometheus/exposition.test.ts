import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ExpositionState, renderExposition } from '../../../src/prometheus/exposition.js';
import { DEFAULT_BUCKETS } from '../../../src/prometheus/metric-families.js';
import { SeriesStore, seriesKey } from '../../../src/prometheus/series-store.js';

function state(): ExpositionState {
  const store = new SeriesStore(DEFAULT_BUCKETS);
  store.observe('ttft', seriesKey({ agent_name: 'a', provider: 'p', model: 'm' }), 0.3, {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    value: 0.3,
    at: 1_700_000_000.5,
  });
  store.inc(
    'requests',
    seriesKey({ agent_name: 'a', component: 'llm', provider: 'p', model: 'm' }),
    4,
  );
  return { store, activeSessions: 2, peakSessions: 3, renderErrors: 0 };
}

describe('exposition', () => {
  it('renders cumulative buckets, sum and count in the text format', async () => {
    const text = renderExposition(state(), false);
    assert.match(
      text,
      /lk_agents_llm_ttft_seconds_bucket\{agent_name="a",provider="p",model="m",le="0.2"\} 0/,
    );
    assert.match(
      text,
      /lk_agents_llm_ttft_seconds_bucket\{agent_name="a",provider="p",model="m",le="0.3"\} 1/,
    );
    assert.match(text, /lk_agents_llm_ttft_seconds_bucket\{[^}]*le="\+Inf"\} 1/);
    assert.match(
      text,
      /lk_agents_llm_ttft_seconds_count\{agent_name="a",provider="p",model="m"\} 1/,
    );
    assert.match(text, /^lk_agents_active_sessions 2$/m);
    assert.match(text, /^lk_agents_peak_sessions 3$/m);
    assert.doesNotMatch(text, /trace_id/, 'no exemplars in the text format');
  });

  it('renders OpenMetrics with exemplars and counter families named without _total', async () => {
    const text = renderExposition(state(), true);
    assert.match(text, /^# TYPE lk_agents_requests counter$/m);
    assert.match(
      text,
      /^lk_agents_requests_total\{agent_name="a",component="llm",provider="p",model="m"\} 4$/m,
    );
    assert.match(
      text,
      /le="0.3"\} 1 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"\} 0.3 1700000000.5/,
    );
    assert.ok(text.endsWith('# EOF\n'));
  });

  it('names counter families with _total in the text format, whatever was rendered before', () => {
    renderExposition(state(), true);
    const text = renderExposition(state(), false);
    assert.match(text, /^# TYPE lk_agents_requests_total counter$/m);
    assert.match(text, /^lk_agents_requests_total\{/m);
    assert.doesNotMatch(text, /_total_total/);
  });

  it('escapes label values and exemplar trace ids', () => {
    const store = new SeriesStore(DEFAULT_BUCKETS);
    store.inc('odd_fields', seriesKey({ field: 'a"b\\c\nd' }), 1);
    const text = renderExposition(
      { store, activeSessions: 0, peakSessions: 0, renderErrors: 0 },
      false,
    );
    assert.match(text, /^lk_agents_plugin_odd_fields_total\{field="a\\"b\\\\c\\nd"\} 1$/m);
  });
});
