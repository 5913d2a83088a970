/**
 * Builds the panel's DOM from the feed's state. Every received string reaches the page through
 * `textContent` (via `append(string)`): nothing here parses HTML. Numbers are positioned through
 * the CSSOM (`style.left`), which a strict Content-Security-Policy allows.
 *
 * `data-*` attributes name what each element shows (`data-metric`, `data-field`, `data-stage`,
 * `data-alert-level`) so tests and apps can read the panel without depending on its text.
 */
import type {
  ActiveAlert,
  BottleneckComponent,
  MetricsSummary,
  Stats,
  TurnStage,
} from '../types.js';
import type { AgentMetricsState } from '../view/metrics-feed.js';
import { alertText, formatMs, formatPercent } from './format.js';

type Child = Node | string;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { class?: string; data?: Record<string, string> } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  for (const [key, value] of Object.entries(props.data ?? {})) node.dataset[key] = value;
  node.append(...children);
  return node;
}

interface Row {
  metric: string;
  label: string;
  stats: (s: MetricsSummary) => Stats;
  /** Error rate beside the row, spanning `errorRows` rows (the LLM's covers TTFT and TTLT). */
  errors?: (s: MetricsSummary) => number | null;
  errorRows?: number;
  /** The row above's error cell spans this one. */
  errorsAbove?: boolean;
}

const ROWS: readonly Row[] = [
  {
    metric: 'stt_latency',
    label: 'STT latency',
    stats: (s) => s.stt.latency,
    errors: (s) => s.stt.error_rate,
  },
  {
    metric: 'ttft',
    label: 'LLM TTFT',
    stats: (s) => s.llm.ttft,
    errors: (s) => s.llm.error_rate,
    errorRows: 2,
  },
  { metric: 'ttlt', label: 'LLM TTLT', stats: (s) => s.llm.ttlt, errorsAbove: true },
  {
    metric: 'function_execution',
    label: 'tools',
    stats: (s) => s.function.execution,
    errors: (s) => s.function.error_rate,
  },
  {
    metric: 'tts_latency',
    label: 'TTS TTFB',
    stats: (s) => s.tts.latency,
    errors: (s) => s.tts.error_rate,
  },
  { metric: 'e2e_latency', label: 'end-to-end', stats: (s) => s.e2e.latency },
];

/** The series that stands for each bottleneck component (as in `src/analysis/bottleneck.ts`). */
const BOTTLENECK_ROW: Readonly<Record<BottleneckComponent, string>> = {
  stt: 'stt_latency',
  llm: 'ttft',
  tts: 'tts_latency',
};

const STAGE_LABELS: Readonly<Record<TurnStage['stage'], string>> = {
  stt: 'STT',
  end_of_turn: 'end of turn',
  llm: 'LLM',
  function: 'tool',
  tts: 'TTS',
};

/** Waterfall rows drawn at most; a turn with more stages says how many were left out. */
const MAX_STAGE_ROWS = 16;

/** The panel's content for every tracked agent (or the waiting state when there is none). */
export function renderAgents(agents: readonly AgentMetricsState[]): Node[] {
  if (agents.length === 0) {
    return [
      el('div', { class: 'lkm-status', data: { status: 'waiting' } }, 'waiting for metrics…'),
    ];
  }
  // A stable order, so two agents don't swap places on every message.
  return [...agents]
    .sort((a, b) => (a.sender < b.sender ? -1 : a.sender > b.sender ? 1 : 0))
    .map(renderAgent);
}

function renderAgent(state: AgentMetricsState): HTMLElement {
  const status = state.final ? 'ended' : state.summary ? 'live' : 'waiting';
  const statusText = { ended: 'session ended', live: 'live', waiting: 'waiting for metrics…' };
  const head = el(
    'div',
    { class: 'lkm-head' },
    el('span', { class: 'lkm-status', data: { status } }, statusText[status]),
    el('span', { class: 'lkm-room', data: { field: 'room' } }, state.room),
  );
  if (state.sender) {
    head.append(el('span', { class: 'lkm-who', data: { field: 'agent' } }, state.sender));
  }
  if (state.summary) {
    const turns = state.summary.turns;
    head.append(
      el(
        'span',
        { class: 'lkm-turns', data: { field: 'turns' } },
        `${turns} turn${turns === 1 ? '' : 's'}`,
      ),
    );
  }
  const section = el('section', { class: 'lkm-agent' }, head);
  if (state.summary) section.append(renderTable(state.summary, state.alerts));
  if (state.alerts.length > 0) section.append(renderAlerts(state.alerts));
  if (state.lastTurn) section.append(renderWaterfall(state.lastTurn));
  return section;
}

function renderTable(summary: MetricsSummary, alerts: readonly ActiveAlert[]): HTMLElement {
  const bottleneck = summary.bottleneck === null ? undefined : BOTTLENECK_ROW[summary.bottleneck];
  const body = el('tbody');
  for (const row of ROWS) {
    const stats = row.stats(summary);
    const isBottleneck = row.metric === bottleneck;
    const label = el('th', { class: 'lkm-label' }, row.label);
    if (isBottleneck) label.append(' ', el('span', { class: 'lkm-badge' }, 'bottleneck'));
    const tr = el(
      'tr',
      { class: isBottleneck ? 'lkm-bottleneck' : '', data: { metric: row.metric } },
      label,
      el('td', { data: { field: 'p50' } }, formatMs(stats.p50)),
      el('td', { data: { field: 'p90' } }, formatMs(stats.p90)),
    );
    const alert = worstAlert(alerts.filter((a) => a.metric === row.metric));
    if (alert) tr.dataset.alertLevel = alert.level;
    if (row.errors) {
      const td = el('td', { data: { field: 'error_rate' } }, formatPercent(row.errors(summary)));
      if (row.errorRows) td.rowSpan = row.errorRows;
      tr.append(td);
    } else if (!row.errorsAbove) {
      tr.append(el('td'));
    }
    body.append(tr);
  }
  const head = el(
    'thead',
    {},
    el('tr', {}, el('th'), el('th', {}, 'p50'), el('th', {}, 'p90'), el('th', {}, 'errors')),
  );
  return el('table', { class: 'lkm-table' }, head, body);
}

function worstAlert(alerts: readonly ActiveAlert[]): ActiveAlert | undefined {
  return alerts.find((a) => a.level === 'critical') ?? alerts[0];
}

function renderAlerts(alerts: readonly ActiveAlert[]): HTMLElement {
  const list = el('ul', { class: 'lkm-alerts' });
  // Critical first, then in the order they were raised.
  const ordered = [...alerts].sort(
    (a, b) => Number(b.level === 'critical') - Number(a.level === 'critical'),
  );
  for (const alert of ordered) {
    list.append(
      el(
        'li',
        {
          class: `lkm-alert lkm-${alert.level}`,
          data: { alertLevel: alert.level, alertMetric: alert.metric },
        },
        alertText(alert),
      ),
    );
  }
  return list;
}

function renderWaterfall(turn: NonNullable<AgentMetricsState['lastTurn']>): HTMLElement {
  const e2e = turn.e2eLatencyMs;
  let start = 0;
  let end = e2e ?? 0;
  for (const s of turn.stages) {
    start = Math.min(start, s.offsetMs);
    end = Math.max(end, s.offsetMs + Math.max(0, s.durationMs));
  }
  const span = end - start;
  const pct = (ms: number) => `${span > 0 ? ((ms / span) * 100).toFixed(3) : '0'}%`;

  const flags = [
    turn.input,
    turn.interrupted ? 'interrupted' : '',
    turn.cancelled ? 'cancelled' : '',
  ];
  const title = el(
    'div',
    { class: 'lkm-turn-title' },
    `last turn · ${flags.filter(Boolean).join(' · ')}`,
  );
  if (e2e !== undefined) {
    title.append(' · ', el('span', { data: { field: 'e2e' } }, `${formatMs(e2e)} to answer`));
  }
  const box = el('div', { class: 'lkm-waterfall' }, title);

  const track = (bar?: HTMLElement) => {
    const t = el('span', { class: 'lkm-track' });
    if (bar) t.append(bar);
    if (e2e !== undefined) {
      const line = el('span', { class: 'lkm-e2e-line' });
      line.style.left = pct(e2e - start);
      t.append(line);
    }
    return t;
  };

  for (const stage of turn.stages.slice(0, MAX_STAGE_ROWS)) {
    const bar = el('span', { class: `lkm-bar lkm-bar-${stage.stage}` });
    bar.style.left = pct(stage.offsetMs - start);
    bar.style.width = pct(Math.max(0, stage.durationMs));
    if (stage.outcome && stage.outcome !== 'ok') bar.dataset.outcome = stage.outcome;
    if (stage.firstOutputMs !== undefined && stage.durationMs > 0) {
      const tick = el('span', { class: 'lkm-tick', data: { field: 'first_output' } });
      const share = Math.min(stage.firstOutputMs, stage.durationMs) / stage.durationMs;
      tick.style.left = `${(share * 100).toFixed(3)}%`;
      bar.append(tick);
    }
    const name = stage.stage === 'function' && stage.name ? stage.name : STAGE_LABELS[stage.stage];
    box.append(
      el(
        'div',
        { class: 'lkm-stage', data: { stage: stage.stage } },
        el('span', { class: 'lkm-stage-name' }, name),
        track(bar),
        el('span', { class: 'lkm-dur' }, formatMs(stage.durationMs)),
      ),
    );
  }
  const hidden = turn.stages.length - MAX_STAGE_ROWS;
  if (hidden > 0) box.append(el('div', { class: 'lkm-more' }, `+ ${hidden} more stages`));
  return box;
}
