/**
 * The Kubernetes manifests in examples/kubernetes pass the Prometheus Operator's own API types:
 * tools/manifest-check (Go, built by scripts/ensure-manifest-check.sh from the module proxy)
 * decodes them strictly into the operator's monitoring/v1 types, unknown fields rejected, and
 * checks what the CRD schemas and Prometheus would. Mutated copies show the check is real.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { main } from '../../src/cli/main.js';
import { buildPrometheusRules, generatePrometheusRules } from '../../src/prometheus/rules.js';
import { promtool, repoRoot } from '../support/prometheus-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'lkam-manifests-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const PODMONITOR = join(repoRoot, 'examples/kubernetes/podmonitor.yaml');
/** The PrometheusRule is generated (it follows the metric catalog), as the docs show. */
const PROMETHEUSRULE = join(dir, 'prometheusrule.yaml');
const RULE_ARGS = ['rules', '--format', 'prometheusrule', '--label', 'release=prometheus'];

const read = (path: string) => readFileSync(path, 'utf8');
const ruleCounts = () => {
  const groups = buildPrometheusRules().groups;
  const rules = groups.flatMap((g) => g.rules);
  return { records: rules.filter((r) => 'record' in r).length, total: rules.length };
};

let checker = '';
before(() => {
  const out = execFileSync('bash', [join(repoRoot, 'scripts/ensure-manifest-check.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    // The first build downloads the operator's and Kubernetes' API modules (~40 s cold).
    timeout: 600_000,
  });
  checker = out.trim().split('\n').pop()!;
});
before(async () => {
  const r = await cli(...RULE_ARGS, '--out', PROMETHEUSRULE);
  assert.equal(r.code, 0, r.stderr);
});

function check(...paths: string[]) {
  const run = spawnSync(checker, paths, { encoding: 'utf8', timeout: 30_000 });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A copy of `path` with `from` replaced by `to` (which must occur), checked. */
function checkMutated(path: string, from: string | RegExp, to: string) {
  const text = read(path);
  const mutated = text.replace(from, to);
  assert.notEqual(mutated, text, `${String(from)} is not in ${path}`);
  const copy = join(dir, `mutated-${path.split('/').pop()}`);
  writeFileSync(copy, mutated);
  return check(copy);
}

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('the Kubernetes manifests', { timeout: 660_000 }, () => {
  it('decode strictly into the operator types and pass its checks', () => {
    const run = check(PODMONITOR, PROMETHEUSRULE);
    assert.equal(run.status, 0, run.output);
    const lines = run.output.trim().split('\n');
    assert.equal(lines.length, 2, run.output);
    assert.match(
      lines[0]!,
      /^ok {3}\S+podmonitor\.yaml: document 1 \(PodMonitor\/livekit-agents\): 1 endpoint\(s\): port metrics, path \/metrics, interval 15s$/,
    );
    assert.match(
      lines[1]!,
      new RegExp(
        `^ok {3}\\S+prometheusrule\\.yaml: document 1 \\(PrometheusRule/livekit-agents-metrics\\): ` +
          `2 group\\(s\\), ${ruleCounts().records} recording rule\\(s\\), ` +
          `${ruleCounts().total - ruleCounts().records} alert\\(s\\)$`,
      ),
    );
  });

  it('the PrometheusRule holds exactly the rules file groups, and promtool accepts them', () => {
    const manifest = parse(read(PROMETHEUSRULE)) as { spec: unknown };
    assert.deepEqual(manifest.spec, parse(generatePrometheusRules()));
    const spec = join(dir, 'spec.yml');
    writeFileSync(spec, JSON.stringify(manifest.spec));
    const run = promtool(['check', 'rules', spec]);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${ruleCounts().total} rules found`));
  });

  it('fails a misspelled, wrongly cased or unknown field', () => {
    const cases: [string, string | RegExp, string, RegExp][] = [
      [
        PODMONITOR,
        'interval: 15s',
        'intervall: 15s',
        /unknown field "spec\.podMetricsEndpoints\[0\]\.intervall"/,
      ],
      // encoding/json would match this case-insensitively; the API server does not
      [
        PODMONITOR,
        'podMetricsEndpoints:',
        'podmetricsEndpoints:',
        /unknown field "spec\.podmetricsEndpoints"/,
      ],
      [PODMONITOR, '  selector:', '  selectors:', /unknown field "spec\.selectors"/],
      [
        PROMETHEUSRULE,
        /^ {10}expr: /m,
        '          expression: ',
        /unknown field "spec\.groups\[0\]\.rules\[0\]\.expression"/,
      ],
      [
        PROMETHEUSRULE,
        '    release: prometheus',
        '    release: prometheus\n  annotation: {}',
        /unknown field "metadata\.annotation"/,
      ],
    ];
    for (const [path, from, to, message] of cases) {
      const run = checkMutated(path, from, to);
      assert.equal(run.status, 1, `${to}: ${run.output}`);
      assert.match(run.output, message);
      assert.match(run.output, /^FAIL /m);
    }
  });

  it('fails values the operator or Prometheus would reject', () => {
    const cases: [string, string | RegExp, string, RegExp][] = [
      [
        PODMONITOR,
        'interval: 15s',
        'interval: 15 seconds',
        /interval: "15 seconds" is not a Prometheus duration/,
      ],
      [
        PODMONITOR,
        'interval: 15s',
        'interval: 15s\n      scrapeTimeout: 30s',
        /scrapeTimeout 30s is longer than interval 15s/,
      ],
      [PODMONITOR, '- port: metrics\n      path:', '- path:', /no port/],
      [PODMONITOR, 'path: /metrics', 'path: metrics', /path "metrics" does not start with \//],
      [
        PODMONITOR,
        'matchLabels:\n      app.kubernetes.io/name: livekit-agent-worker',
        'matchLabels: {}',
        /spec\.selector is empty/,
      ],
      [
        PODMONITOR,
        'apiVersion: monitoring.coreos.com/v1',
        'apiVersion: monitoring.coreos.com/v1beta1',
        /apiVersion "monitoring\.coreos\.com\/v1beta1", expected "monitoring\.coreos\.com\/v1"/,
      ],
      [PROMETHEUSRULE, 'kind: PrometheusRule', 'kind: PrometheusRules', /kind "PrometheusRules"/],
      [
        PROMETHEUSRULE,
        /for: 2m/,
        'for: 2 minutes',
        /groups\[1\]\.rules\[0\]: for: "2 minutes" is not a Prometheus duration/,
      ],
      [
        PROMETHEUSRULE,
        'record: lk_agents:stt',
        'record: lk-agents:stt',
        /rules\[0\]: record "lk-agents:stt_latency_seconds:p50_rate5m" is not a valid metric name/,
      ],
      [
        PROMETHEUSRULE,
        'name: livekit-agents-metrics.alerts',
        'name: livekit-agents-metrics.recording',
        /group name "livekit-agents-metrics\.recording" is used twice/,
      ],
      [
        PROMETHEUSRULE,
        'name: livekit-agents-metrics\n',
        'name: LiveKit_Metrics\n',
        /metadata\.name "LiveKit_Metrics"/,
      ],
    ];
    for (const [path, from, to, message] of cases) {
      const run = checkMutated(path, from, to);
      assert.equal(run.status, 1, `${to}: ${run.output}`);
      assert.match(run.output, message);
    }
  });
});
