/**
 * Renders a summary and a turn as terminal text: the demo's live table and `watch`'s output.
 * Rows, labels and units come from the metric catalog. Isomorphic (pure strings). Strings that
 * arrived over the data channel (tool names, room names, identities) are untrusted: every code
 * point a terminal would act on or draw as nothing is replaced, so they cannot drive the terminal,
 * reorder or hide what it shows; and they are cut to a bounded length.
 */
import { alertText, formatMs, formatPercent, formatValue } from '../catalog/format.js';
import { BOTTLENECK_STATS, STAT_NAMES, statDef } from '../catalog/index.js';
import type { ActiveAlert, MetricsSummary, TurnTimeline } from '../types.js';

const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
/**
 * What a received string may not bring to a terminal, by Unicode's own categories rather than a
 * list of known offenders (a list misses what it does not name): controls (Cc: escape sequences,
 * newlines, C1), format characters (Cf: bidi embeddings, overrides and isolates, zero-width
 * characters, tag characters), private use (Co), unassigned code points and noncharacters (Cn),
 * lone surrogates (Cs), line and paragraph separators (Zl, Zp), and every default-ignorable code
 * point (Hangul fillers, variation selectors, U+180E…), which a terminal draws as nothing.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');
const MARK = /\p{M}/u;
/** Combining marks kept on one character: enough for any script, too few to pile over lines. */
const MAX_MARKS = 4;
/** Code points of a received string printed at most (each takes at most two columns). */
export const MAX_PRINTABLE = 128;

/**
 * A received string made safe to print: each unsafe code point (see `UNSAFE`) becomes `?`,
 * a run of combining marks is cut to four, and the result is at most `max` code points, the last
 * an ellipsis when it was cut.
 */
export function printable(s: string, max = MAX_PRINTABLE): string {
  const out: string[] = [];
  let marks = 0;
  for (const c of s) {
    if (MARK.test(c)) {
      marks += 1;
      if (marks > MAX_MARKS) continue;
    } else marks = 0;
    out.push(UNSAFE.test(c) ? '?' : c);
    if (out.length > max) break;
  }
  return out.length > max ? `${out.slice(0, Math.max(0, max - 1)).join('')}…` : out.join('');
}

/** JSON with every unsafe code point (see `printable`) escaped as `\uXXXX`: the same value to a
 * JSON reader, and nothing a terminal (or a `jq` piped to one) would act on. */
export const safeJson = (value: unknown): string =>
  JSON.stringify(value).replace(UNSAFE_ALL, (c) =>
    Array.from(
      { length: c.length },
      (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`,
    ).join(''),
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
  return printable(alertText(a), 256);
}

/** Offsets and durations that arrived over the network are drawn within this span: a day, the
 * longest the wire format carries. */
const MAX_DRAWN_MS = 86_400_000;
const clampMs = (ms: number) =>
  Number.isFinite(ms) ? Math.max(-MAX_DRAWN_MS, Math.min(MAX_DRAWN_MS, ms)) : 0;
/** A received duration as text: its value within a day, `> 86400 s` beyond (never a clamped
 * value passed off as the real one), `–` when it is not a number. */
function durationText(ms: number): string {
  if (Number.isNaN(ms)) return formatMs(ms);
  if (ms > MAX_DRAWN_MS) return `> ${formatMs(MAX_DRAWN_MS)}`;
  if (ms < -MAX_DRAWN_MS) return `< ${formatMs(-MAX_DRAWN_MS)}`;
  return formatMs(ms);
}
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
    `last turn (${turn.input}${flags}): e2e ${turn.e2eLatencyMs === undefined ? '—' : durationText(turn.e2eLatencyMs)}`,
  ];
  for (const st of stages) {
    const from = cells(clampMs(st.offsetMs) - start);
    const len = Math.max(1, Math.min(width - from, cells(Math.max(0, clampMs(st.durationMs)))));
    const label = st.stage === 'function' ? `tool ${printable(st.name ?? '', 11)}` : st.stage;
    const flag = st.outcome && st.outcome !== 'ok' ? ` ${st.outcome}` : '';
    lines.push(
      `  ${pad(label, 16)} ${' '.repeat(from)}${'█'.repeat(len)} ${durationText(st.durationMs)}${flag}`,
    );
  }
  const hidden = turn.stages.length - stages.length;
  if (hidden > 0) lines.push(`  + ${hidden} more stages`);
  return lines;
}
