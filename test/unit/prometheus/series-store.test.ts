import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_BUCKETS } from '../../../src/prometheus/metric-families.js';
import { FunctionNameCap, SessionSeriesSink } from '../../../src/prometheus/series-sink.js';
import { DROPPED, SeriesStore, labelKey, seriesKey } from '../../../src/prometheus/series-store.js';

const llm = seriesKey({ provider: 'openai', model: 'gpt-4o' });

describe('SeriesStore', () => {
  it('counts an observation into the first bucket whose bound is ≥ the value', () => {
    const store = new SeriesStore({ latency: [0.1, 0.5, 1], throughput: [10] });
    for (const v of [0.05, 0.1, 0.3, 0.5, 2]) store.observe('ttft', llm, v);
    const [h] = [...store.histogramSeries('ttft')];
    assert.deepEqual(h!.counts, [2, 2, 0, 1], 'le=0.1 holds 0.05 and 0.1 (bounds are inclusive)');
    assert.equal(h!.count, 5);
    assert.ok(Math.abs(h!.sum - 2.95) < 1e-9);
  });

  it('merges snapshots by label set, keeping counts cumulative', () => {
    const a = new SeriesStore(DEFAULT_BUCKETS);
    const b = new SeriesStore(DEFAULT_BUCKETS);
    a.observe('ttft', llm, 0.2);
    b.observe('ttft', seriesKey({ model: 'gpt-4o', provider: 'openai' }), 0.4); // other key order
    b.inc('requests', seriesKey({ component: 'llm' }), 3);
    a.merge(b.snapshot());
    a.merge(b.snapshot());
    const [h] = [...a.histogramSeries('ttft')];
    assert.equal(h!.count, 3);
    assert.deepEqual(
      [...a.counterSeries('requests')].map((c) => c.value),
      [6],
    );
  });

  it('refuses to merge a snapshot with another bucket layout', () => {
    const a = new SeriesStore(DEFAULT_BUCKETS);
    const b = new SeriesStore({ latency: [1, 2], throughput: [1] });
    assert.throws(() => a.merge(b.snapshot()), /bucket layouts/);
  });

  it('drops series past its limit and counts the drops', () => {
    const store = new SeriesStore(DEFAULT_BUCKETS, 3);
    for (let i = 0; i < 10; i++) store.observe('ttft', seriesKey({ model: `m${i}` }), 0.1);
    assert.equal([...store.histogramSeries('ttft')].length, 3);
    assert.deepEqual(
      [...store.counterSeries('dropped_samples')].map((c) => [c.labels.reason, c.value]),
      [['series_limit', 7]],
    );
  });

  it('keeps the latest exemplar per bucket', () => {
    const store = new SeriesStore(DEFAULT_BUCKETS);
    store.observe('e2e_latency', seriesKey({}), 0.8, { traceId: 'a', value: 0.8, at: 1 });
    store.observe('e2e_latency', seriesKey({}), 0.9, { traceId: 'b', value: 0.9, at: 2 });
    const [h] = [...store.histogramSeries('e2e_latency')];
    assert.equal(h!.exemplars!.filter(Boolean).length, 1);
    assert.equal(h!.exemplars!.find(Boolean)!.traceId, 'b');
  });
});

describe('SessionSeriesSink', () => {
  const sinkWith = (maxNames = 50) => {
    const target = { store: new SeriesStore(DEFAULT_BUCKETS) };
    return {
      target,
      sink: new SessionSeriesSink(target, { agent_name: 'support' }, new FunctionNameCap(maxNames)),
    };
  };

  it('converts milliseconds to seconds, and keeps tokens per second as they are', () => {
    const { target, sink } = sinkWith();
    sink.sample({ stat: 'ttft', value: 250, at: 0, provider: 'openai', model: 'gpt-4o' });
    sink.sample({ stat: 'tokens_per_sec', value: 42, at: 0, provider: 'openai', model: 'gpt-4o' });
    const [ttft] = [...target.store.histogramSeries('ttft')];
    assert.equal(ttft!.sum, 0.25);
    assert.deepEqual(ttft!.labels, { agent_name: 'support', provider: 'openai', model: 'gpt-4o' });
    assert.equal([...target.store.histogramSeries('tokens_per_sec')][0]!.sum, 42);
  });

  it('counts requests and errors per component, provider and model', () => {
    const { target, sink } = sinkWith();
    const p = { provider: 'cartesia', model: 'sonic' };
    sink.request({ component: 'tts', outcome: 'ok', ...p });
    sink.request({ component: 'tts', outcome: 'error', ...p });
    sink.request({ component: 'tts', outcome: 'retry', ...p });
    sink.request({ component: 'tts', outcome: 'cancelled', ...p });
    assert.deepEqual(
      [...target.store.counterSeries('requests')].map((c) => c.value),
      [2],
    );
    assert.deepEqual(
      [...target.store.counterSeries('errors')].map((c) => [c.labels.component, c.value]),
      [['tts', 1]],
    );
  });

  it('folds invented tool names past the cap into other, and counts them', () => {
    const { target, sink } = sinkWith(2);
    for (const name of ['a', 'b', 'c', 'd', 'a']) {
      sink.sample({
        stat: 'function_execution',
        value: 10,
        at: 0,
        functionName: name,
        outcome: 'ok',
      });
    }
    const names = [...target.store.histogramSeries('function_execution')].map((h) => [
      h.labels.function,
      h.count,
    ]);
    assert.deepEqual(names, [
      ['a', 2],
      ['b', 1],
      ['other', 2],
    ]);
    assert.deepEqual(
      [...target.store.counterSeries('folded_functions')].map((c) => c.value),
      [2],
    );
  });

  it('counts every family against the cap, health counters of other reasons included', () => {
    const store = new SeriesStore(DEFAULT_BUCKETS, 3);
    for (let i = 0; i < 100; i++) {
      store.inc('dropped_samples', seriesKey({ reason: `invented-${i}` }));
      store.inc('dropped_messages', seriesKey({ reason: `invented-${i}` }));
      store.inc('odd_fields', seriesKey({ field: `f${i}` }));
    }
    const kept = (['dropped_samples', 'dropped_messages', 'odd_fields'] as const).flatMap((f) => [
      ...store.counterSeries(f),
    ]);
    // three admitted, plus the one series that reports the drops
    assert.equal(kept.length, 4);
    assert.deepEqual(
      [...store.counterSeries('dropped_samples')]
        .filter((c) => c.labels.reason === 'series_limit')
        .map((c) => c.value),
      [297],
    );
  });

  it('always keeps the fixed health series, past the cap', () => {
    const store = new SeriesStore(DEFAULT_BUCKETS, 1);
    store.inc('requests', seriesKey({ component: 'llm' }));
    store.inc('internal_errors', seriesKey({ source: 'sink', reason: 'rejected' }));
    store.inc('hub_disconnects', seriesKey({}), 2);
    store.inc('dropped_samples', DROPPED.hub_invalid_frame);
    store.merge({
      v: 1,
      layout: DEFAULT_BUCKETS,
      histograms: {},
      counters: { dropped_samples: [{ labels: { reason: 'hub_undeliverable' }, value: 4 }] },
    });
    assert.equal([...store.counterSeries('internal_errors')].length, 1);
    assert.equal([...store.counterSeries('hub_disconnects')][0]!.value, 2);
    assert.deepEqual(
      [...store.counterSeries('dropped_samples')].map((c) => [c.labels.reason, c.value]),
      [
        ['hub_invalid_frame', 1],
        ['hub_undeliverable', 4],
      ],
    );
  });

  it('gives label sets that differ a different key, whatever their values hold', () => {
    const forged = labelKey({ a: 'x\u0000b\u0001y' });
    assert.notEqual(forged, labelKey({ a: 'x', b: 'y' }));
    assert.notEqual(labelKey({ a: 'x,b=y' }), labelKey({ a: 'x', b: 'y' }));
    assert.equal(labelKey({ a: '1', b: '2' }), labelKey({ b: '2', a: '1' }));
  });
});
