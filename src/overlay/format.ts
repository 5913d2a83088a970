/**
 * How the overlay writes numbers and alerts as text. Pure functions, so the panel and its tests
 * agree on the exact strings.
 */
import type { ActiveAlert, AlertMetric, Component } from '../types.js';

const DASH = '–';

/** `412 ms` under a second, `1.21 s` / `12.3 s` / `123 s` above; `–` when there is no value. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return DASH;
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  const digits = Math.abs(s) < 10 ? 2 : Math.abs(s) < 100 ? 1 : 0;
  return `${trimZeros(s.toFixed(digits))} s`;
}

/** `0%`, `3.3%`, `12.5%`; `–` before the first request. */
export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined) return DASH;
  return `${trimZeros(value.toFixed(1))}%`;
}

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

export const COMPONENT_LABELS: Readonly<Record<Component, string>> = {
  stt: 'STT',
  llm: 'LLM',
  tts: 'TTS',
  function: 'tools',
};

const ALERT_LABELS: Readonly<Record<Exclude<AlertMetric, 'error_rate'>, string>> = {
  stt_latency: 'STT latency',
  ttft: 'LLM TTFT',
  ttlt: 'LLM TTLT',
  tts_latency: 'TTS TTFB',
  function_execution: 'tools',
  e2e_latency: 'end-to-end',
  tokens_per_sec: 'LLM tokens/s',
};

/** e.g. `LLM TTFT p90 2.1 s ≥ 2 s`, `TTS error rate 12% ≥ 10%`, `LLM tokens/s p90 8 ≤ 10`. */
export function alertText(alert: ActiveAlert): string {
  if (alert.metric === 'error_rate') {
    const who = alert.component === undefined ? 'pipeline' : COMPONENT_LABELS[alert.component];
    return `${who} error rate ${formatPercent(alert.value)} ≥ ${formatPercent(alert.threshold)}`;
  }
  const label = ALERT_LABELS[alert.metric];
  if (alert.metric === 'tokens_per_sec') {
    // Throughput alerts fire when the rate falls below the threshold.
    const rate = (v: number) => trimZeros(v.toFixed(1));
    return `${label} p90 ${rate(alert.value)} ≤ ${rate(alert.threshold)}`;
  }
  return `${label} p90 ${formatMs(alert.value)} ≥ ${formatMs(alert.threshold)}`;
}
