import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Meter } from '@opentelemetry/api';
import { OtelSink } from '../../../src/otel/otel-sink.js';
import { DEFAULT_BUCKETS } from '../../../src/prometheus/metric-families.js';
import { DEFAULT_MAX_FUNCTION_NAMES } from '../../../src/prometheus/series-sink.js';
import { Guard } from '../../../src/util/guard.js';

/** A meter whose instruments record what they were given, by instrument name. */
function recordingMeter() {
  const calls: { name: string; value: number; attributes: Record<string, unknown> }[] = [];
  const instrument = (name: string) => ({
    record: (value: number, attributes: Record<string, unknown>) =>
      calls.push({ name, value, attributes }),
    add: (value: number, attributes: Record<string, unknown>) =>
      calls.push({ name, value, attributes }),
  });
  const meter = {
    createHistogram: instrument,
    createCounter: instrument,
    createUpDownCounter: instrument,
  } as unknown as Meter;
  return { meter, calls };
}

describe('OtelSink', () => {
  it('folds tool names past the cap into other, and counts each fold, as /metrics does', () => {
    const { meter, calls } = recordingMeter();
    const sink = OtelSink.start(
      meter,
      { agent_name: 'a' },
      DEFAULT_BUCKETS,
      new Guard({ warn: () => {} }),
    )!;
    const names = DEFAULT_MAX_FUNCTION_NAMES + 3;
    for (let i = 0; i < names; i++) {
      sink.sample({ stat: 'function_execution', value: 10, functionName: `tool_${i}` } as never);
    }
    const folds = calls.filter((c) => c.name === 'lk_agents_plugin_function_names_folded');
    assert.equal(folds.length, 3);
    assert.deepEqual(folds[0]!.attributes, { agent_name: 'a' });
    const other = calls.filter(
      (c) => c.name === 'lk_agents_function_execution' && c.attributes.function === 'other',
    );
    assert.equal(other.length, 3);
  });
});
