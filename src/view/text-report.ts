/**
 * Renders a summary and a turn as terminal text: the demo's live table and `watch`'s output.
 * Isomorphic (pure strings). Strings that arrived over the data channel (tool names) are
 * untrusted: control characters are stripped so they cannot drive the terminal.
 */
import type { ActiveAlert, MetricsSummary, Stats, TurnTimeline } from '../types.js';

const ms = (v: number | null) => (v === null ? '—' : `${Math.round(v)}`);
const pct = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)}%`);
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
// eslint-disable-next-line no-control-regex -- removing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
/** A received string made safe to print: no escape sequences, newlines or other controls. */
export const printable = (s: string) => s.replace(CONTROL, '?');

export interface RenderOptions {
  color: boolean;
}

export function renderSummary(
  s: MetricsSummary,
  lastTurn: TurnTimeline | undefined,
  o: RenderOptions,
): string {
  const paint = (code: number, text: string) => (o.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const rows: Array<[string, string, Stats, number | null, string?]> = [
    ['stt', 'latency', s.stt.latency, s.stt.error_rate, 'stt'],
    ['llm', 'ttft', s.llm.ttft, s.llm.error_rate, 'llm'],
    ['llm', 'ttlt', s.llm.ttlt, null],
    ['tools', 'execution', s.function.execution, s.function.error_rate],
    ['tts', 'latency', s.tts.latency, s.tts.error_rate, 'tts'],
    ['e2e', 'latency', s.e2e.latency, null],
  ];
  const lines = [
    `${pad('component', 10)}${pad('metric', 10)}${lpad('n', 4)}${lpad('p50 ms', 9)}${lpad('p90 ms', 9)}${lpad('p95 ms', 9)}${lpad('errors', 9)}`,
  ];
  for (const [component, metric, st, errorRate, bottleneckKey] of rows) {
    let line = `${pad(component, 10)}${pad(metric, 10)}${lpad(String(st.count), 4)}${lpad(ms(st.p50), 9)}${lpad(ms(st.p90), 9)}${lpad(ms(st.p95), 9)}${lpad(metric === 'ttlt' || component === 'e2e' ? '' : pct(errorRate), 9)}`;
    if (bottleneckKey && bottleneckKey === s.bottleneck) line = paint(1, `${line}  ◀ bottleneck`);
    lines.push(line);
  }
  lines.push('');
  lines.push(
    `turns ${s.turns} (interrupted ${s.interrupted_turns}, cancelled ${s.cancelled_turns})   ` +
      `tokens/s p50 ${ms(s.llm.token_rate.p50)}   tools peak ${s.concurrency.peak_tools}   ` +
      `requests llm ${s.llm.requests.requests} / tts ${s.tts.requests.requests} / stt ${s.stt.requests.requests}`,
  );
  if (s.alerts.length === 0) lines.push(`alerts: ${paint(32, 'none')}`);
  for (const a of s.alerts) {
    lines.push(
      `alert: ${paint(a.level === 'critical' ? 31 : 33, a.level.toUpperCase())} ${describeAlert(a)}`,
    );
  }
  if (lastTurn) lines.push('', ...renderWaterfall(lastTurn));
  return lines.join('\n');
}

/** An alert's metric, value and threshold, e.g. `ttft p90 = 2412 ms (threshold 2000 ms)`. */
export function describeAlert(a: ActiveAlert): string {
  const what = a.component ? `${a.metric}(${a.component})` : `${a.metric} p90`;
  const unit = a.metric === 'error_rate' ? '%' : ' ms';
  return `${what} = ${a.value.toFixed(0)}${unit} (threshold ${a.threshold}${unit})`;
}

/** The last turn as a text waterfall: one bar per stage on a shared time axis. */
export function renderWaterfall(turn: TurnTimeline, width = 48): string[] {
  const end = Math.max(
    turn.e2eLatencyMs ?? 0,
    ...turn.stages.map((st) => st.offsetMs + st.durationMs),
    1,
  );
  const scale = width / end;
  const header = `last turn (${turn.input}${turn.interrupted ? ', interrupted' : ''}${turn.cancelled ? ', cancelled' : ''}): e2e ${turn.e2eLatencyMs === undefined ? '—' : `${Math.round(turn.e2eLatencyMs)} ms`}`;
  const lines = [header];
  for (const st of turn.stages) {
    const from = Math.max(0, Math.round(st.offsetMs * scale));
    const len = Math.max(1, Math.round(st.durationMs * scale));
    const label = st.stage === 'function' ? `tool ${printable(st.name ?? '')}` : st.stage;
    const flag = st.outcome && st.outcome !== 'ok' ? ` ${st.outcome}` : '';
    lines.push(
      `  ${pad(label.slice(0, 16), 16)} ${' '.repeat(from)}${'█'.repeat(len)} ${Math.round(st.durationMs)} ms${flag}`,
    );
  }
  return lines;
}
