/**
 * Renders a summary and a turn as terminal text: the demo's live table and `watch`'s output.
 * Rows, labels and units come from the metric catalog. Isomorphic (pure strings). Strings that
 * arrived over the data channel (tool names, room names) are untrusted: control, format and
 * bidirectional-override characters are replaced so they cannot drive the terminal or reorder
 * what it shows.
 */
import { alertText, formatMs, formatPercent, formatValue } from '../catalog/format.js';
import { BOTTLENECK_STATS, STAT_NAMES, statDef } from '../catalog/index.js';
import type { ActiveAlert, MetricsSummary, TurnTimeline } from '../types.js';

const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
// C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text (bidi
// embeddings and overrides, isolates, zero-width joiners, the BOM).
// eslint-disable-next-line no-control-regex -- removing control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;
/** A received string made safe to print: no escape sequences, newlines, controls or bidi. */
export const printable = (s: string) => s.replace(UNSAFE, '?');

/** JSON with every control, format and bidi character escaped as `\uXXXX`: the same value to a
 * JSON reader, and nothing a terminal (or a `jq` piped to one) would act on. */
export const safeJson = (value: unknown): string =>
  JSON.stringify(value).replace(
    UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

export interface RenderOptions {
  color: boolean;
}

const COLUMNS = ['n', 'p50', 'p90', 'p95', 'errors'] as const;
const WIDTH = { label: 16, n: 6, value: 11 };

export function renderSummary(
  s: MetricsSummary,
  lastTurn: TurnTimeline | undefined,
  o: RenderOptions,
): string {
  const paint = (code: number, text: string) => (o.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const bottleneck = s.bottleneck === null ? undefined : BOTTLENECK_STATS[s.bottleneck];
  const lines = [
    pad('metric', WIDTH.label) +
      lpad(COLUMNS[0], WIDTH.n) +
      COLUMNS.slice(1)
        .map((c) => lpad(c, WIDTH.value))
        .join(''),
  ];
  for (const name of STAT_NAMES) {
    const def = statDef(name);
    const st = s.stats[name];
    const errors = def.errorsBeside ? formatPercent(s.components[def.errorsBeside].errorRate) : '';
    let line =
      pad(def.label, WIDTH.label) +
      lpad(String(st.count), WIDTH.n) +
      [st.p50, st.p90, st.p95].map((v) => lpad(formatValue(name, v), WIDTH.value)).join('') +
      lpad(errors, WIDTH.value);
    if (name === bottleneck) line = paint(1, `${line}  ◀ bottleneck`);
    lines.push(line);
  }
  lines.push('');
  const c = s.components;
  lines.push(
    `turns ${s.turns} (interrupted ${s.interruptedTurns}, cancelled ${s.cancelledTurns})   ` +
      `tools peak ${s.concurrency.peakTools}   ` +
      `requests llm ${c.llm.requests} / tts ${c.tts.requests} / stt ${c.stt.requests}`,
  );
  const t = s.turnTaking;
  const extra = [
    t.interruptions + t.falseInterruptions + t.backchannels > 0
      ? `interruptions ${t.interruptions}, false ${t.falseInterruptions} ` +
        `(resumed ${t.resumedFalseInterruptions}), backchannels ${t.backchannels}`
      : '',
    s.usage.cost === undefined
      ? ''
      : `cost ${+s.usage.cost.toPrecision(4)} ${printable(s.usage.currency ?? '')}`,
  ].filter(Boolean);
  if (extra.length > 0) lines.push(extra.join('   '));
  if (s.alerts.length === 0) lines.push(`alerts: ${paint(32, 'none')}`);
  for (const a of s.alerts) {
    lines.push(
      `alert: ${paint(a.level === 'critical' ? 31 : 33, a.level.toUpperCase())} ${describeAlert(a)}`,
    );
  }
  if (lastTurn) lines.push('', ...renderWaterfall(lastTurn));
  return lines.join('\n');
}

/** An alert as one line with its units and hysteresis (the overlay shows the same text). */
export function describeAlert(a: ActiveAlert): string {
  return alertText(a);
}

/** Offsets and durations that arrived over the network are drawn within this span. */
const MAX_DRAWN_MS = 3_600_000;
const clampMs = (ms: number) =>
  Number.isFinite(ms) ? Math.max(-MAX_DRAWN_MS, Math.min(MAX_DRAWN_MS, ms)) : 0;
/** Stage rows drawn at most (a turn with many tool calls says how many it left out). */
const MAX_STAGE_ROWS = 16;

/** The last turn as a text waterfall: one bar per stage on a shared time axis. Every offset and
 * duration is clamped, so no received number can make a bar longer than `width`. */
export function renderWaterfall(turn: TurnTimeline, width = 48): string[] {
  const stages = turn.stages.slice(0, MAX_STAGE_ROWS);
  const e2e = turn.e2eLatencyMs === undefined ? undefined : clampMs(turn.e2eLatencyMs);
  let start = 0;
  let end = Math.max(e2e ?? 0, 1);
  for (const st of stages) {
    start = Math.min(start, clampMs(st.offsetMs));
    end = Math.max(end, clampMs(st.offsetMs) + Math.max(0, clampMs(st.durationMs)));
  }
  const scale = width / (end - start);
  const cells = (ms: number) => Math.max(0, Math.min(width, Math.round(ms * scale)));
  const flags = `${turn.interrupted ? ', interrupted' : ''}${turn.cancelled ? ', cancelled' : ''}`;
  const lines = [
    `last turn (${turn.input}${flags}): e2e ${e2e === undefined ? '—' : formatMs(e2e)}`,
  ];
  for (const st of stages) {
    const from = cells(clampMs(st.offsetMs) - start);
    const len = Math.max(1, Math.min(width - from, cells(Math.max(0, clampMs(st.durationMs)))));
    const label = st.stage === 'function' ? `tool ${printable(st.name ?? '')}` : st.stage;
    const flag = st.outcome && st.outcome !== 'ok' ? ` ${st.outcome}` : '';
    lines.push(
      `  ${pad(label.slice(0, 16), 16)} ${' '.repeat(from)}${'█'.repeat(len)} ${formatMs(st.durationMs)}${flag}`,
    );
  }
  const hidden = turn.stages.length - stages.length;
  if (hidden > 0) lines.push(`  + ${hidden} more stages`);
  return lines;
}
