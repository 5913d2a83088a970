/**
 * The metric tables of docs/METRICS.md, generated from the catalog (`npm run docs` writes them;
 * a test fails when the committed ones are stale).
 */
import { DEFAULT_ALERT_RULES, ERROR_RATE, FAMILY_CATALOG, STAT_NAMES, statDef } from './index.js';
import { FAMILIES, otelInstrument } from './families.js';

export const TABLES_START = '<!-- generated from src/catalog: npm run docs -->';
export const TABLES_END = '<!-- end of generated tables -->';

const code = (s: string) => `\`${s}\``;
const row = (cells: string[]) => `| ${cells.join(' | ')} |`;

function table(head: string[], rows: string[][]): string {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');
}

/** The stats, the error rate, and the counters and gauges, as Markdown tables. */
export function metricsTables(): string {
  const stats = table(
    [
      '`stats(name)`',
      'unit',
      'better',
      'what it measures',
      'Prometheus histogram (labels)',
      'OpenTelemetry',
      'default alert (p90)',
    ],
    STAT_NAMES.map((name) => {
      const def = statDef(name);
      const alert = DEFAULT_ALERT_RULES[name];
      const otel = otelInstrument(FAMILIES[name]);
      return [
        code(name),
        def.unit,
        def.better,
        def.description,
        `${code(def.prometheus.name)} (${def.prometheus.labels.map(code).join(', ') || '—'})`,
        `${code(otel.name)} (${otel.unit})`,
        alert ? `${alert.warning} / ${alert.critical} ${def.unit}` : '—',
      ];
    }),
  );
  const rate = table(
    ['metric', 'unit', 'what it measures', 'in `summary()`', 'default alert'],
    [
      [
        code('error_rate'),
        ERROR_RATE.unit,
        ERROR_RATE.description,
        code(ERROR_RATE.summary),
        `${ERROR_RATE.alert.warning} / ${ERROR_RATE.alert.critical} %`,
      ],
    ],
  );
  const families = table(
    ['Prometheus family', 'type', 'labels', 'what it counts', 'in `summary()`'],
    (Object.keys(FAMILY_CATALOG) as (keyof typeof FAMILY_CATALOG)[]).map((key) => {
      const def = FAMILY_CATALOG[key];
      const summary = 'summary' in def ? code(def.summary) : '—';
      return [
        code(def.prometheus.name),
        def.type,
        def.prometheus.labels.map(code).join(', ') || '—',
        def.description,
        summary,
      ];
    }),
  );
  return [
    TABLES_START,
    '',
    '### Stats',
    '',
    stats,
    '',
    '### Error rate',
    '',
    rate,
    '',
    '### Counters and gauges',
    '',
    families,
    '',
    TABLES_END,
  ].join('\n');
}

/** `doc` with its generated tables replaced by the current ones. */
export function withCurrentTables(doc: string): string {
  const start = doc.indexOf(TABLES_START);
  const end = doc.indexOf(TABLES_END);
  if (start < 0 || end < start) throw new Error('the document has no generated-tables markers');
  return doc.slice(0, start) + metricsTables() + doc.slice(end + TABLES_END.length);
}
