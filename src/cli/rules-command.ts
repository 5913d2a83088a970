import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MetricsConfigError } from '../errors.js';
import {
  generatePrometheusRuleManifest,
  type RuleManifestMeta,
} from '../prometheus/rule-manifest.js';
import {
  buildPrometheusRules,
  generatePrometheusRules,
  parsePromDuration,
  type PrometheusRulesOptions,
} from '../prometheus/rules.js';
import type { AlertRules } from '../types.js';
import { type CliIo, type Command, EXIT_FAILURE, UsageError, oneLine, quoted } from './command.js';

const USAGE = `Usage: livekit-agents-metrics rules [options]

Prints a Prometheus rules file (YAML) for the exporter's metrics: p50/p90/p95 recording rules
per histogram, the error ratio per component, and warning and critical alerts that mirror the
plugin's alert rules (defaults: stt_latency 1500/2500 ms, ttft 2000/3500 ms, error_rate 5/10 %).

Options:
  --alerts <file>        JSON file of alert rules, as attachMetrics' \`alerts\` option (ms,
                         percent for error_rate), merged over the defaults; false disables one
  --window <ms|dur>      window of the quantiles and error ratios: ms (300000) or a Prometheus
                         duration (5m); as the plugin's alertWindowMs (default 5m)
  --for <dur>            how long a condition holds before its alert fires (default 2m)
  --group-by <a,b>       labels kept in every aggregation besides the family's own
  --min-requests <n>     requests a component needs in the window to raise its error-rate
                         alert, as the plugin's alertMinRequests (default 5)
  --format <format>      rules (default): a Prometheus rules file; prometheusrule: the same
                         groups in a Prometheus Operator PrometheusRule (monitoring.coreos.com/v1)
  --name <name>          the PrometheusRule's metadata.name (default livekit-agents-metrics)
  --namespace <ns>       the PrometheusRule's metadata.namespace (default: none)
  --label <key=value>    a PrometheusRule label, e.g. what your Prometheus's ruleSelector
                         matches; repeat for several
  --out <file>           write the rules to a file instead of standard output
  -h, --help             show this help

Example:
  livekit-agents-metrics rules --alerts alerts.json --window 10m --out rules.yml
  promtool check rules rules.yml
  livekit-agents-metrics rules --format prometheusrule --label release=prometheus | kubectl apply -f -
`;

const FORMATS = ['rules', 'prometheusrule'] as const;
type Format = (typeof FORMATS)[number];

function parseFormat(text: string): Format {
  const format = FORMATS.find((f) => f === text);
  if (!format)
    throw new UsageError(`--format: expected rules or prometheusrule, got ${quoted(text)}`);
  return format;
}

function parseLabels(pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = Object.create(null);
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label: expected key=value, got ${quoted(pair)}`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

function parseWindow(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const ms = parsePromDuration(text);
  if (ms === undefined) {
    throw new UsageError(
      `--window: expected milliseconds or a duration such as 5m, got ${quoted(text)}`,
    );
  }
  return ms;
}

function parseCount(text: string, flag: string): number {
  if (!/^\d+$/.test(text))
    throw new UsageError(`${flag}: expected a whole number, got ${quoted(text)}`);
  return Number(text);
}

/** Reads the alert rules file; an unreadable or unparsable file fails the run (exit 1). */
function readAlerts(path: string): AlertRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RunError(`cannot read --alerts file: ${oneLine((err as Error).message)}`);
  }
  try {
    return JSON.parse(text) as AlertRules;
  } catch (err) {
    throw new RunError(
      `--alerts file ${quoted(path)} is not valid JSON: ${oneLine((err as Error).message)}`,
    );
  }
}

class RunError extends Error {}

export const rulesCommand: Command = {
  name: 'rules',
  summary: 'print Prometheus recording and alerting rules for the exported metrics',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          alerts: { type: 'string' },
          window: { type: 'string' },
          for: { type: 'string' },
          'group-by': { type: 'string' },
          'min-requests': { type: 'string' },
          format: { type: 'string' },
          name: { type: 'string' },
          namespace: { type: 'string' },
          label: { type: 'string', multiple: true },
          out: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      // parseArgs says which option was unknown or lacked its value.
      throw new UsageError((err as Error).message);
    }
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    const options: PrometheusRulesOptions = {};
    if (values.window !== undefined) options.alertWindowMs = parseWindow(values.window);
    if (values.for !== undefined) options.for = values.for;
    if (values['group-by'] !== undefined) {
      options.groupBy = values['group-by']
        .split(',')
        .map((label) => label.trim())
        .filter((label) => label !== '');
    }
    if (values['min-requests'] !== undefined) {
      options.alertMinRequests = parseCount(values['min-requests'], '--min-requests');
    }
    const format = values.format === undefined ? 'rules' : parseFormat(values.format);
    const meta: RuleManifestMeta = {};
    if (values.name !== undefined) meta.name = values.name;
    if (values.namespace !== undefined) meta.namespace = values.namespace;
    if (values.label !== undefined) meta.labels = parseLabels(values.label);
    if (format === 'rules' && Object.keys(meta).length > 0) {
      throw new UsageError('--name, --namespace and --label need --format prometheusrule');
    }
    try {
      if (values.alerts !== undefined) options.alerts = readAlerts(values.alerts);
      const yaml =
        format === 'prometheusrule'
          ? generatePrometheusRuleManifest(options, meta)
          : generatePrometheusRules(options);
      if (values.out === undefined) {
        io.stdout(yaml);
        return 0;
      }
      writeFileSync(values.out, yaml);
      const [recording, alerting] = buildPrometheusRules(options).groups;
      io.stderr(
        `wrote ${oneLine(values.out)}: ${recording?.rules.length ?? 0} recording rules, ` +
          `${alerting?.rules.length ?? 0} alerts\n`,
      );
      return 0;
    } catch (err) {
      if (err instanceof MetricsConfigError || err instanceof RunError) {
        io.stderr(`${err.message}\n`);
        return EXIT_FAILURE;
      }
      if ((err as NodeJS.ErrnoException).code !== undefined) {
        // A file system error writing --out.
        io.stderr(`livekit-agents-metrics: ${oneLine((err as Error).message)}\n`);
        return EXIT_FAILURE;
      }
      throw err;
    }
  },
};
