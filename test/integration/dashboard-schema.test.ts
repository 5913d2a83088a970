/**
 * The Grafana dashboard JSON type-checks against Grafana's own schema types (`@grafana/schema`,
 * shaped for JSON in test/support/grafana-dashboard-type.ts). The JSON is compiled as an object
 * literal, with the TypeScript compiler API, so that a misspelled or unknown field is an
 * excess-property error (an imported .json module would be checked without them); mutated
 * copies show that it is.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { DASHBOARD_PATH } from '../support/grafana-queries.js';
import { repoRoot } from '../support/prometheus-tools.js';

/** Where the generated source pretends to live (it imports the types relative to it). */
const CHECK_FILE = join(repoRoot, 'test/integration/dashboard-schema.check.ts');
const PANELS = '"__PANELS__"';

const readConfig = () => {
  const path = join(repoRoot, 'tsconfig.json');
  const { config } = ts.readConfigFile(path, ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config, ts.sys, repoRoot).options;
};
const options = { ...readConfig(), noEmit: true };
let previous: ts.Program | undefined;

/**
 * The source that type-checks `dashboard`: each panel `satisfies` the type of its own plugin
 * (so an error names the panel's field, not another plugin's), then the whole as a
 * DashboardJson. Also where each panel's text is, to say which panel an error is in.
 */
function checkSource(dashboard: Json & { panels: Json[] }) {
  const { panels, ...rest } = dashboard;
  let source =
    "import type { DashboardJson, PanelJson } from '../support/grafana-dashboard-type.js';\n" +
    'const panels = [\n';
  const spans: Array<{ start: number; end: number; where: string }> = [];
  panels.forEach((p, i) => {
    const start = source.length;
    const type = typeof p.type === 'string' ? JSON.stringify(p.type) : 'never';
    source += `${JSON.stringify(p, null, 2)} satisfies PanelJson<${type}>,\n`;
    spans.push({ start, end: source.length, where: `panels[${i}]` });
  });
  const whole = JSON.stringify({ ...rest, panels: '__PANELS__' }, null, 2);
  source += `];\nexport const dashboard: DashboardJson = ${whole.replace(PANELS, 'panels')};\n`;
  return { source, spans };
}

/** The compiler's complaints about `dashboard`, each prefixed with the panel it is in. */
function typeCheck(dashboard: Json & { panels: Json[] }): string[] {
  const { source, spans } = checkSource(dashboard);
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, version, ...rest) =>
    name === CHECK_FILE
      ? ts.createSourceFile(name, source, version)
      : getSourceFile.call(host, name, version, ...rest);
  host.fileExists = (name) => name === CHECK_FILE || fileExists.call(host, name);
  host.readFile = (name) => (name === CHECK_FILE ? source : readFile.call(host, name));
  // The previous program lets the compiler reuse every unchanged file (all of the schema).
  const program = ts.createProgram([CHECK_FILE], options, host, previous);
  previous = program;
  const file = program.getSourceFile(CHECK_FILE)!;
  return ts.getPreEmitDiagnostics(program, file).map((d) => {
    const at = d.start ?? -1;
    const where = spans.find((s) => at >= s.start && at < s.end)?.where ?? 'dashboard';
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

type Json = Record<string, unknown>;
const original = JSON.parse(readFileSync(join(repoRoot, DASHBOARD_PATH), 'utf8')) as Json & {
  panels: Json[];
};
const copy = () => structuredClone(original);

/** Renames `from` to `to` in `obj`, keeping the key order. */
function rename(obj: Record<string, unknown>, from: string, to: string): void {
  assert.ok(from in obj, `no ${from} to rename`);
  const entries = Object.entries(obj).map(([k, v]) => [k === from ? to : k, v] as const);
  for (const key of Object.keys(obj)) delete obj[key];
  Object.assign(obj, Object.fromEntries(entries));
}

const panel = (d: ReturnType<typeof copy>, title: string) => {
  const found = d.panels.find((p) => p.title === title);
  assert.ok(found, title);
  return found as Record<string, any>;
};

describe('the Grafana dashboard against @grafana/schema', { timeout: 120_000 }, () => {
  it('type-checks as a Dashboard whose panels have their plugins options', () => {
    assert.deepEqual(typeCheck(original), []);
  });

  it('fails a misspelled or unknown field, at any depth, or a value the schema does not allow', () => {
    const cases: Array<[what: string, mutate: (d: ReturnType<typeof copy>) => void, RegExp]> = [
      [
        'a panel field',
        (d) => rename(panel(d, 'STT latency'), 'gridPos', 'gridpos'),
        /^panels\[6\]: .*'"gridpos"' does not exist/,
      ],
      [
        'a dashboard field',
        (d) => rename(d, 'schemaVersion', 'schemaversion'),
        /^dashboard: .*'"schemaversion"' does not exist/,
      ],
      [
        'a panel option',
        (d) => rename(panel(d, 'STT latency').options.legend, 'displayMode', 'dispalyMode'),
        /^panels\[6\]: .*'"dispalyMode"' does not exist/,
      ],
      [
        'a field config default',
        (d) => rename(panel(d, 'STT latency').fieldConfig.defaults, 'unit', 'units'),
        /^panels\[6\]: .*'"units"' does not exist/,
      ],
      [
        'a custom field config',
        (d) =>
          rename(panel(d, 'STT latency').fieldConfig.defaults.custom, 'lineWidth', 'linewidth'),
        /^panels\[6\]: .*'"linewidth"' does not exist/,
      ],
      [
        'a target field',
        (d) => rename(panel(d, 'STT latency').targets[0], 'legendFormat', 'legend'),
        /^panels\[6\]: .*'"legend"' does not exist/,
      ],
      [
        'an enum value',
        (d) => void (panel(d, 'STT latency').options.tooltip.mode = 'singel'),
        /^panels\[6\]: .*"singel"/,
      ],
      [
        'a panel type',
        (d) => void (panel(d, 'STT latency').type = 'timeserie'),
        /^panels\[6\]: Type '"timeserie"' is not assignable to type '"stat" \| /,
      ],
      [
        'a number as a string',
        (d) => void (panel(d, 'STT latency').gridPos.w = '12'),
        /^panels\[6\]: Type 'string' is not assignable to type 'number'/,
      ],
    ];
    for (const [what, mutate, expected] of cases) {
      const d = copy();
      mutate(d);
      const errors = typeCheck(d);
      assert.ok(errors.length > 0, `${what}: no error`);
      assert.ok(
        errors.some((e) => expected.test(e)),
        `${what}: expected ${expected}, got\n${errors.join('\n')}`,
      );
    }
  });
});
