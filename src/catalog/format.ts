/**
 * How a metric's values and alerts read as text, from the catalog's units and labels. The
 * terminal report, `watch` and the overlay all write numbers through these functions, so a value
 * reads the same everywhere. Pure and isomorphic.
 */
import type { ActiveAlert, Component } from '../types.js';
import { type AlertMetric, ERROR_RATE, alertDirection, statDef, unitOf } from './index.js';

const DASH = '–';

/** Numbers that arrived over the network are clamped to this before they are written out. */
const MAX_ABS = 1e12;

const clamp = (v: number) => Math.max(-MAX_ABS, Math.min(MAX_ABS, v));

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** `412 ms` under a second, `1.21 s` / `12.3 s` / `123 s` above; `–` when there is no value. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  const v = clamp(ms);
  if (Math.abs(v) < 1000) return `${Math.round(v)} ms`;
  const s = v / 1000;
  const digits = Math.abs(s) < 10 ? 2 : Math.abs(s) < 100 ? 1 : 0;
  return `${trimZeros(s.toFixed(digits))} s`;
}

/** `0%`, `3.3%`, `12.5%`; `–` before the first request. */
export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return `${trimZeros(clamp(value).toFixed(1))}%`;
}

/** A value in its metric's unit: `412 ms`, `1.21 s`, `38.5/s` (tokens per second: the metric's
 * label says what is counted), `12.5%`. */
export function formatValue(metric: AlertMetric, value: number | null | undefined): string {
  switch (unitOf(metric)) {
    case 'ms':
      return formatMs(value);
    case '%':
      return formatPercent(value);
    default:
      return value === null || value === undefined || !Number.isFinite(value)
        ? DASH
        : `${trimZeros(clamp(value).toFixed(1))}/s`;
  }
}

/** How each request-making component is named in text. */
export const COMPONENT_LABELS: Readonly<Record<Component, string>> = {
  stt: 'STT',
  llm: 'LLM',
  tts: 'TTS',
  function: 'tools',
};

/** The metric an alert watches, as a reader names it: `LLM TTFT p90`, `TTS error rate`. */
export function alertSubject(alert: Pick<ActiveAlert, 'metric' | 'component'>): string {
  if (alert.metric === 'error_rate') {
    const who = alert.component === undefined ? 'pipeline' : COMPONENT_LABELS[alert.component];
    return `${who} ${ERROR_RATE.label}`;
  }
  return `${statDef(alert.metric).label} p90`;
}

/**
 * An active alert as one line that stays true while it is raised, hysteresis included:
 * `LLM TTFT p90 1.97 s: warning since 2.4 s ≥ 2 s, clears below 1.8 s`.
 */
export function alertText(alert: ActiveAlert): string {
  const bad = alertDirection(alert.metric) === 'above' ? '≥' : '≤';
  const good = alertDirection(alert.metric) === 'above' ? 'below' : 'above';
  const f = (v: number) => formatValue(alert.metric, v);
  return (
    `${alertSubject(alert)} ${f(alert.value)}: ${alert.level} since ${f(alert.raisedValue)} ` +
    `${bad} ${f(alert.threshold)}, clears ${good} ${f(alert.clearThreshold)}`
  );
}
