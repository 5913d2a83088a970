/**
 * What the metrics plugin reports for one pipeline component, read in one place so the provider
 * tests follow the summary's shape through a single edit when it changes.
 */
import { voice } from '@livekit/agents';
import assert from 'node:assert/strict';
import type { SessionMetrics, Stats } from '../../../src/index.js';
import type { ProviderRequest } from './request-log.js';

export interface ComponentNumbers {
  requests: number;
  errors: number;
  retries: number;
  cancelled: number;
  errorRate: number | null;
  /** The component's latency series: STT latency, LLM TTFT, or TTS time to first byte. */
  latency: Stats;
}

const LATENCY = { stt: 'stt_latency', llm: 'ttft', tts: 'tts_latency' } as const;

export function pluginNumbers(
  metrics: SessionMetrics,
  component: 'stt' | 'llm' | 'tts',
): ComponentNumbers {
  const summary = metrics.summary();
  const { requests, errors, retries, cancelled, error_rate } = summary[component].requests;
  return {
    requests,
    errors,
    retries,
    cancelled,
    errorRate: error_rate,
    latency: metrics.stats(LATENCY[component]),
  };
}

/** Latencies must land within −5/+60 ms of what the server applied (timer and loopback slack). */
export const BELOW_MS = 5;
export const ABOVE_MS = 60;

export function assertNear(
  observed: number | null | undefined,
  expected: number,
  what: string,
  below = BELOW_MS,
) {
  assert.ok(observed !== null && observed !== undefined, `${what}: no value`);
  assert.ok(
    observed >= expected - below && observed <= expected + ABOVE_MS,
    `${what}: plugin ${observed} ms, server ${expected} ms`,
  );
}

/** The server's own first-byte latency of a request (arrival to first output). */
export function serverFirstByteMs(entry: ProviderRequest): number {
  assert.ok(entry.firstByteAt !== undefined, `${entry.id}: no first byte`);
  return entry.firstByteAt - entry.startedAt;
}

/** A sorted copy, for comparing two sets of latencies whose order may differ. */
export const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

/** Copies of the framework's own `metrics_collected` reports of one type, as they arrive. */
export function frameworkReports(
  session: voice.AgentSession,
  type: string,
): Array<Record<string, unknown>> {
  const reports: Array<Record<string, unknown>> = [];
  session.on(voice.AgentSessionEventTypes.MetricsCollected, (ev) => {
    if (ev.metrics.type === type) reports.push({ ...ev.metrics });
  });
  return reports;
}
