/**
 * Writes the exposition a scrape returns: the Prometheus text format (0.0.4) or OpenMetrics
 * (1.0.0, with exemplars), from the runtime's series at scrape time. The hot path never formats
 * anything; this runs once per scrape. Checked against `promtool check metrics` and Prometheus's
 * own parser in the tests.
 */
import { FAMILIES, FAMILY_KEYS, type FamilyKey } from './metric-families.js';
import type { Labels, SeriesStore } from './series-store.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE =
  'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Everything one scrape renders. */
export interface ExpositionState {
  /** Cumulative histograms and counters of every process the endpoint covers. */
  store: SeriesStore;
  activeSessions: number;
  peakSessions: number;
  /** Render failures so far (their own counter, kept by the server). */
  renderErrors: number;
  /** Connections the server closed unserved, by reason (its own counter). Default: none. */
  scrapeRefused?: ReadonlyMap<string, number>;
}

const escapeLabel = (v: string) =>
  v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function formatNumber(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/** `a="x",b="y"`: a series' labels, escaped once however many lines carry them. */
function labelPairs(labels: Labels): string {
  let out = '';
  for (const name in labels) out += `${out ? ',' : ''}${name}="${escapeLabel(labels[name]!)}"`;
  return out;
}

const labelText = (labels: Labels) => {
  const pairs = labelPairs(labels);
  return pairs ? `{${pairs}}` : '';
};

/** Gauges and counters the server keeps itself rather than in the series store. */
function serverValue(family: FamilyKey, s: ExpositionState): number | undefined {
  switch (family) {
    case 'active_sessions':
      return s.activeSessions;
    case 'peak_sessions':
      return s.peakSessions;
    case 'render_errors':
      return s.renderErrors;
    default:
      return undefined;
  }
}

function writeFamily(
  out: string[],
  family: FamilyKey,
  state: ExpositionState,
  openMetrics: boolean,
): void {
  const def = FAMILIES[family];
  // In OpenMetrics a counter family is named without `_total`; its samples keep it.
  const familyName =
    openMetrics && def.type === 'counter' ? def.name.replace(/_total$/, '') : def.name;
  out.push(`# HELP ${familyName} ${escapeHelp(def.help)}`, `# TYPE ${familyName} ${def.type}`);
  if (family === 'scrape_refused') {
    for (const [reason, n] of state.scrapeRefused ?? []) {
      out.push(`${def.name}${labelText({ reason })} ${formatNumber(n)}`);
    }
    return;
  }
  const own = serverValue(family, state);
  if (own !== undefined) {
    out.push(`${def.name} ${formatNumber(own)}`);
    return;
  }
  if (def.type !== 'histogram') {
    let any = false;
    for (const c of state.store.counterSeries(family)) {
      out.push(`${def.name}${labelText(c.labels)} ${formatNumber(c.value)}`);
      any = true;
    }
    // health counters are exposed at 0 too, so a rate() over them works from the first scrape
    if (!any && def.labelNames.length === 0) out.push(`${def.name} 0`);
    return;
  }
  const bounds = state.store.bounds(family);
  const les = [...bounds.map(formatNumber), '+Inf'];
  for (const h of state.store.histogramSeries(family)) {
    const pairs = labelPairs(h.labels);
    const bucketPrefix = `${def.name}_bucket{${pairs}${pairs ? ',' : ''}le="`;
    let cumulative = 0;
    for (let i = 0; i < les.length; i++) {
      cumulative += h.counts[i] ?? 0;
      let line = `${bucketPrefix}${les[i]}"} ${cumulative}`;
      const e = openMetrics ? h.exemplars?.[i] : undefined;
      if (e) line += ` # {trace_id="${escapeLabel(e.traceId)}"} ${formatNumber(e.value)} ${e.at}`;
      out.push(line);
    }
    const plain = pairs ? `{${pairs}}` : '';
    out.push(`${def.name}_sum${plain} ${formatNumber(h.sum)}`);
    out.push(`${def.name}_count${plain} ${h.count}`);
  }
}

/** The exposition of every family, in the text format or in OpenMetrics (ending in `# EOF`). */
export function renderExposition(state: ExpositionState, openMetrics: boolean): string {
  const out: string[] = [];
  for (const family of FAMILY_KEYS) writeFamily(out, family, state, openMetrics);
  if (openMetrics) out.push('# EOF');
  return `${out.join('\n')}\n`;
}

/** Whether an Accept header asks for OpenMetrics (Prometheus sends it when it wants exemplars). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return typeof accept === 'string' && accept.includes('application/openmetrics-text');
}
