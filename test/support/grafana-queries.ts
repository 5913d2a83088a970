/**
 * The Grafana dashboard's queries, and what Grafana does to one before it reaches Prometheus:
 * its own variables ($__interval, $__rate_interval, $__range) computed from the time range, the
 * panel's width and the data source's scrape interval, the dashboard's template variables
 * ($job) formatted for a regex matcher, and the choice of instant or range query. Written after
 * Grafana's Prometheus backend, pkg/tsdb/prometheus/models/query.go (Parse,
 * calculatePrometheusInterval, calculateRateInterval, interpolateVariables) and
 * pkg/tsdb/intervalv2/intervalv2.go (Calculate, roundInterval).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './prometheus-tools.js';

export const DASHBOARD_PATH = 'examples/grafana/livekit-agents-dashboard.json';

export interface PanelQuery {
  /** Where it is, e.g. `panels[6] "STT latency" B`. */
  where: string;
  panelTitle: string;
  panelType: string;
  /** The panel's width in grid columns (of 24). */
  gridWidth: number;
  refId: string;
  expr: string;
  legendFormat: string;
  /** Grafana runs an instant query when `instant` is set, else a range query. */
  instant: boolean;
  format?: string;
}

export interface TemplateVariable {
  name: string;
  query: string;
  includeAll: boolean;
  allValue?: string;
}

export interface Dashboard {
  /** The default time range, in ms (`now-1h` → 3_600_000). */
  rangeMs: number;
  queries: PanelQuery[];
  variables: TemplateVariable[];
}

interface RawTarget {
  refId: string;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  format?: string;
}

interface RawPanel {
  title: string;
  type: string;
  gridPos: { w: number };
  targets?: RawTarget[];
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `now-1h` → 3_600_000. */
function relativeMs(from: string): number {
  const m = /^now-(\d+)([smhd])$/.exec(from);
  if (!m) throw new Error(`unsupported time range start ${from}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

export function readDashboard(): Dashboard {
  const json = JSON.parse(readFileSync(join(repoRoot, DASHBOARD_PATH), 'utf8')) as {
    time: { from: string; to: string };
    panels: RawPanel[];
    templating: {
      list: Array<Omit<TemplateVariable, 'query'> & { query: { query: string } | string }>;
    };
  };
  if (json.time.to !== 'now') throw new Error(`unsupported time range end ${json.time.to}`);
  const queries = json.panels.flatMap((panel, i) =>
    (panel.targets ?? []).map((t) => ({
      where: `panels[${i}] "${panel.title}" ${t.refId}`,
      panelTitle: panel.title,
      panelType: panel.type,
      gridWidth: panel.gridPos.w,
      refId: t.refId,
      expr: t.expr,
      legendFormat: t.legendFormat ?? '',
      // Grafana's Parse: instant when asked for; a target with neither flag is a range query.
      instant: t.instant === true,
      format: t.format,
    })),
  );
  const variables = json.templating.list.map((v) => ({
    name: v.name,
    query: typeof v.query === 'string' ? v.query : v.query.query,
    includeAll: v.includeAll,
    allValue: v.allValue,
  }));
  return { rangeMs: relativeMs(json.time.from), queries, variables };
}

/** Grafana's interval rounding: a raw interval in ms to the next "nice" one below it. */
const ROUNDING: ReadonlyArray<[upToMs: number, roundedMs: number]> = [
  [10, 1],
  [15, 10],
  [35, 20],
  [75, 50],
  [150, 100],
  [350, 200],
  [750, 500],
  [1_500, 1_000],
  [3_500, 2_000],
  [7_500, 5_000],
  [12_500, 10_000],
  [17_500, 15_000],
  [25_000, 20_000],
  [45_000, 30_000],
  [90_000, 60_000],
  [210_000, 120_000],
  [450_000, 300_000],
  [750_000, 600_000],
  [1_050_000, 900_000],
  [1_500_000, 1_200_000],
  [2_700_000, 1_800_000],
  [5_400_000, 3_600_000],
];

function roundInterval(ms: number): number {
  const step = ROUNDING.find(([upTo]) => ms <= upTo);
  if (!step) throw new Error(`interval ${ms} ms: beyond what these tests use`);
  return step[1];
}

/** Go's time.Duration.String() for whole milliseconds (`4s`, `1m5s`, `1.5s`). */
function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1_000;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

/** Grafana's FormatDuration: the largest whole unit (`5s`, `1m`). */
function kbnDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  }
  return `${ms}ms`;
}

export interface QueryContext {
  rangeMs: number;
  /** The data source's scrape interval setting (Grafana's default: 15 s). */
  scrapeIntervalMs: number;
  /** The browser's width in px: Grafana asks for one point per pixel of the panel. */
  screenWidthPx: number;
  /** Template variable name → what it expands to (already formatted). */
  variables: Record<string, string>;
}

/**
 * How the tests view the dashboard: its default time range, on a 1920 px wide screen, with the
 * data source's scrape interval setting equal to the tests' Prometheus scrape interval (1 s).
 */
export function viewing(dashboard: Dashboard, variables: Record<string, string>): QueryContext {
  return { rangeMs: dashboard.rangeMs, scrapeIntervalMs: 1_000, screenWidthPx: 1920, variables };
}

export interface PreparedQuery {
  expr: string;
  instant: boolean;
  /** The range query's step (Grafana's $__interval), ms. */
  stepMs: number;
  rateIntervalMs: number;
}

/** What Grafana sends Prometheus for one panel query. */
export function prepareQuery(q: PanelQuery, ctx: QueryContext): PreparedQuery {
  const maxDataPoints = Math.round((ctx.screenWidthPx * q.gridWidth) / 24);
  const raw = ctx.rangeMs / maxDataPoints;
  // the data source's scrape interval is the minimum; a "safe" resolution of 11000 points too
  const interval = Math.max(
    raw < ctx.scrapeIntervalMs ? ctx.scrapeIntervalMs : roundInterval(raw),
    roundInterval(ctx.rangeMs / 11_000),
  );
  const rateInterval = Math.max(interval + ctx.scrapeIntervalMs, 4 * ctx.scrapeIntervalMs);
  const rangeS = `${Math.round(ctx.rangeMs / 1_000)}s`;
  let expr = q.expr
    .replace(/\$(?:__interval_ms\b|\{__interval_ms\})/g, String(interval))
    .replace(/\$(?:__interval\b|\{__interval\})/g, kbnDuration(interval))
    .replace(/\$(?:__range\b|\{__range\})/g, rangeS)
    .replace(/\$(?:__rate_interval\b|\{__rate_interval\})/g, goDuration(rateInterval));
  expr = expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (all, a, b, c) => {
    const name = (a ?? b ?? c) as string;
    const value = ctx.variables[name];
    if (value === undefined) throw new Error(`${q.where}: no value for variable ${all}`);
    return value;
  });
  return { expr, instant: q.instant, stepMs: interval, rateIntervalMs: rateInterval };
}

/** Grafana's regex formatting of a query variable's selection inside a `=~` matcher. */
export function formatRegexVariable(
  variable: TemplateVariable,
  selected: string[] | 'All',
  options: string[],
): string {
  if (selected === 'All') {
    if (variable.allValue !== undefined) return variable.allValue;
    return formatRegexVariable(variable, options, options);
  }
  const escaped = selected.map((v) => v.replace(/[\\^$*+?.()|{}[\]/]/g, '\\$&'));
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
}

/** The labels a legend format names: `{{provider}} {{model}}` → provider, model. */
export function legendLabels(legendFormat: string): string[] {
  return [...legendFormat.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!);
}

/** `label_values(metric, label)` → its parts (the only variable query the dashboard uses). */
export function parseLabelValuesQuery(query: string): { metric: string; label: string } {
  const m = /^label_values\(\s*([\w:]+(?:\{[^}]*\})?)\s*,\s*(\w+)\s*\)$/.exec(query);
  if (!m) throw new Error(`unsupported variable query ${query}`);
  return { metric: m[1]!, label: m[2]! };
}
