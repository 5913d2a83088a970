/**
 * Builds the panel's DOM from the feed's state. Every received string reaches the page through
 * `textContent` (via `append(string)`): nothing here parses HTML. Numbers are positioned through
 * the CSSOM (`style.left`), which a strict Content-Security-Policy allows.
 *
 * `data-*` attributes name what each element shows (`data-metric`, `data-field`, `data-stage`,
 * `data-alert-level`) so tests and apps can read the panel without depending on its text.
 */
import { alertText, formatMs, formatPercent, formatValue } from '../catalog/format.js';
import { BOTTLENECK_STATS, STAT_NAMES, statDef } from '../catalog/index.js';
import type { ActiveAlert, MetricsSummary, TurnStage } from '../types.js';
import type { AgentMetricsState } from '../view/metrics-feed.js';

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

const STAGE_LABELS: Readonly<Record<TurnStage['stage'], string>> = {
  stt: 'STT',
  end_of_turn: 'end of turn',
  llm: 'LLM',
  function: 'tool',
  tts: 'TTS',
  speech_end_lag: 'end-of-speech lag',
  agent_output: 'agent output',
  uplink: 'uplink',
  downlink: 'downlink',
  network: 'network + playout',
};

/** Waterfall rows drawn at most; a turn with more stages says how many were left out. */
const MAX_STAGE_ROWS = 16;

/** The panel's content for every tracked agent (or the waiting state when there is none). */
export function renderAgents(agents: readonly AgentMetricsState[], showCost = false): Node[] {
  if (agents.length === 0) {
    return [
      el('div', { class: 'lkm-status', data: { status: 'waiting' } }, 'waiting for metrics…'),
    ];
  }
  // A stable order, so two agents don't swap places on every message.
  return [...agents]
    .sort((a, b) => (a.sender < b.sender ? -1 : a.sender > b.sender ? 1 : 0))
    .map((state) => renderAgent(state, showCost));
}

function renderAgent(state: AgentMetricsState, showCost: boolean): HTMLElement {
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
  if (state.lastTurn) section.append(renderWaterfall(state.lastTurn, showCost));
  return section;
}

/** One row per stat of the catalog, with its component's error rate beside the stat the
 * catalog puts it beside. */
function renderTable(summary: MetricsSummary, alerts: readonly ActiveAlert[]): HTMLElement {
  const bottleneck = summary.bottleneck === null ? undefined : BOTTLENECK_STATS[summary.bottleneck];
  const body = el('tbody');
  for (const name of STAT_NAMES) {
    const def = statDef(name);
    const stats = summary.stats[name];
    const isBottleneck = name === bottleneck;
    const label = el('th', { class: 'lkm-label' }, def.label);
    if (isBottleneck) label.append(' ', el('span', { class: 'lkm-badge' }, 'bottleneck'));
    const errors = def.errorsBeside && summary.components[def.errorsBeside].errorRate;
    const tr = el(
      'tr',
      { class: isBottleneck ? 'lkm-bottleneck' : '', data: { metric: name } },
      label,
      el('td', { data: { field: 'p50' } }, formatValue(name, stats.p50)),
      el('td', { data: { field: 'p90' } }, formatValue(name, stats.p90)),
      def.errorsBeside
        ? el('td', { data: { field: 'error_rate' } }, formatPercent(errors))
        : el('td'),
    );
    const alert = worstAlert(alerts.filter((a) => a.metric === name));
    if (alert) tr.dataset.alertLevel = alert.level;
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

function renderWaterfall(
  turn: NonNullable<AgentMetricsState['lastTurn']>,
  showCost: boolean,
): HTMLElement {
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
  // a turn costs fractions of a cent: 3 significant digits, in the price table's currency
  const usage = turn.usage;
  if (showCost && usage?.cost !== undefined) {
    title.append(` · ${+usage.cost.toPrecision(3)} ${usage.currency}`);
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
