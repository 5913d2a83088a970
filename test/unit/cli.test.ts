import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { parseWatchArgs } from '../../src/cli/watch-command.js';
import { buildPrometheusRules, generatePrometheusRules } from '../../src/prometheus/rules.js';
import { parse as parseYaml } from 'yaml';

const dir = mkdtempSync(join(tmpdir(), 'lkam-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
  });
  return { code, stdout, stderr };
}

const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('livekit-agents-metrics CLI', () => {
  it('lists its commands on --help, and on no command (as a usage error)', async () => {
    const help = await cli('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: livekit-agents-metrics <command>/);
    assert.match(help.stdout, /\n {2}rules {5}print Prometheus/);
    assert.match(help.stdout, /\n {2}loadtest {2}ramp up synthetic callers/);
    const none = await cli();
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Commands:/);
  });

  it('shows a command’s own help with --help or help <command>', async () => {
    for (const argv of [
      ['rules', '--help'],
      ['rules', '-h'],
      ['help', 'rules'],
    ]) {
      const r = await cli(...argv);
      assert.equal(r.code, 0, argv.join(' '));
      assert.match(r.stdout, /^Usage: livekit-agents-metrics rules \[options\]/);
      assert.match(r.stdout, /--alerts <file>/);
    }
  });

  it('explains watch and rejects a watch without a room, a URL or the API key and secret', async () => {
    const help = await cli('watch', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: livekit-agents-metrics watch --room <name>/);
    assert.match(help.stdout, /LIVEKIT_API_KEY, LIVEKIT_API_SECRET/);
    const saved = { ...process.env };
    try {
      delete process.env.LIVEKIT_URL;
      process.env.LIVEKIT_API_KEY = 'key';
      process.env.LIVEKIT_API_SECRET = 'secret';
      const noUrl = await cli('watch', '--room', 'r');
      assert.equal(noUrl.code, 2);
      assert.match(noUrl.stderr, /--url is required \(or set LIVEKIT_URL\)/);
      const noRoom = await cli('watch', '--url', 'ws://127.0.0.1:7880');
      assert.match(noRoom.stderr, /--room is required/);
      const badUrl = await cli('watch', '--url', 'localhost:7880', '--room', 'r');
      assert.match(badUrl.stderr, /--url: expected a ws:\/\//);
      const badDuration = await cli('watch', '--url', 'ws://h', '--room', 'r', '--duration', '0');
      assert.match(badDuration.stderr, /--duration: expected seconds > 0/);
      delete process.env.LIVEKIT_API_SECRET;
      const noSecret = await cli('watch', '--url', 'ws://h', '--room', 'r');
      assert.equal(noSecret.code, 2);
      assert.match(noSecret.stderr, /set LIVEKIT_API_KEY and LIVEKIT_API_SECRET/);
    } finally {
      process.env = saved;
    }
  });

  it('rejects an unknown command or option with exit code 2 and says what to run', async () => {
    const unknown = await cli('wtach');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "wtach"; commands: rules, watch, loadtest\./);
    assert.match(unknown.stderr, /livekit-agents-metrics --help/);
    assert.equal((await cli('--verbose')).code, 2);
    assert.equal((await cli('help', 'nope')).code, 2);
    const option = await cli('rules', '--windw', '5m');
    assert.equal(option.code, 2);
    assert.match(option.stderr, /rules: Unknown option '--windw'/);
    assert.match(option.stderr, /livekit-agents-metrics rules --help/);
    for (const argv of [
      ['rules', '--window'],
      ['rules', '--window', 'five'],
      ['rules', '--min-requests', '-1'],
      ['rules', 'extra'],
    ]) {
      assert.equal((await cli(...argv)).code, 2, argv.join(' '));
    }
  });

  it('prints the default rules', async () => {
    const r = await cli('rules');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, generatePrometheusRules());
    assert.equal(r.stderr, '');
  });

  it('passes every option through', async () => {
    const alerts = file(
      'alerts.json',
      JSON.stringify({ ttft: false, e2e_latency: { warning: 1500, critical: 3000 } }),
    );
    const r = await cli(
      'rules',
      '--alerts',
      alerts,
      '--window',
      '10m',
      '--for',
      '5m',
      '--group-by',
      'agent_name, region',
      '--min-requests',
      '10',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      generatePrometheusRules({
        alerts: { ttft: false, e2e_latency: { warning: 1500, critical: 3000 } },
        alertWindowMs: 600_000,
        for: '5m',
        groupBy: ['agent_name', 'region'],
        alertMinRequests: 10,
      }),
    );
    // A window in ms reads the same as the duration.
    assert.equal(
      (await cli('rules', '--window', '600000')).stdout,
      (await cli('rules', '--window', '10m')).stdout,
    );
  });

  it('writes --out and reports what it wrote on stderr', async () => {
    const out = join(dir, 'rules.yml');
    const r = await cli('rules', '--out', out);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(readFileSync(out, 'utf8'), generatePrometheusRules());
    const [recording, alerting] = buildPrometheusRules().groups;
    assert.match(
      r.stderr,
      new RegExp(
        `wrote .*rules\\.yml: ${recording!.rules.length} recording rules, ${alerting!.rules.length} alerts`,
      ),
    );
    const bad = await cli('rules', '--out', join(dir, 'missing-dir', 'rules.yml'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ENOENT/);
  });

  it('wraps the same groups in a PrometheusRule with --format prometheusrule', async () => {
    const r = await cli(
      'rules',
      '--format',
      'prometheusrule',
      '--window',
      '10m',
      '--name',
      'agents-rules',
      '--namespace',
      'monitoring',
      '--label',
      'release=prometheus',
      '--label',
      'team=voice',
    );
    assert.equal(r.code, 0, r.stderr);
    const manifest = parseYaml(r.stdout);
    assert.deepEqual(
      { ...manifest, spec: undefined },
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: {
          name: 'agents-rules',
          namespace: 'monitoring',
          labels: { release: 'prometheus', team: 'voice' },
        },
        spec: undefined,
      },
    );
    assert.deepEqual(manifest.spec, parseYaml(generatePrometheusRules({ alertWindowMs: 600_000 })));
    assert.match(r.stdout, /^# Prometheus rules for livekit-agents-metrics \(window 10m, for 2m\)/);
  });

  it('refuses a bad format, label or name', async () => {
    const format = await cli('rules', '--format', 'yaml');
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format: expected rules or prometheusrule, got "yaml"/);
    const noFormat = await cli('rules', '--label', 'a=b');
    assert.equal(noFormat.code, 2);
    assert.match(noFormat.stderr, /need --format prometheusrule/);
    const pair = await cli('rules', '--format', 'prometheusrule', '--label', 'release');
    assert.equal(pair.code, 2);
    assert.match(pair.stderr, /--label: expected key=value, got "release"/);
    const value = await cli('rules', '--format', 'prometheusrule', '--label', 'a=b c');
    assert.equal(value.code, 1);
    assert.match(value.stderr, /"b c", is not a Kubernetes label value/);
    const name = await cli('rules', '--format', 'prometheusrule', '--name', 'Agents_Rules');
    assert.equal(name.code, 1);
    assert.match(name.stderr, /invalid option `name`/);
  });

  it('fails a bad rule with the MetricsConfigError message and exit code 1', async () => {
    const bad = file('bad.json', JSON.stringify({ ttft: { warning: 4000, critical: 3500 } }));
    const r = await cli('rules', '--alerts', bad);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'livekit-agents-metrics: invalid option `alerts.ttft`: warning (4000) must be below critical (3500)\n',
    );
    assert.equal(r.stdout, '');
    const window = await cli('rules', '--window', '10');
    assert.equal(window.code, 1);
    assert.match(window.stderr, /invalid option `alertWindowMs`/);
    const notJson = await cli('rules', '--alerts', file('x.json', '{ ttft: 1 }'));
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /is not valid JSON/);
    const missing = await cli('rules', '--alerts', join(dir, 'nope.json'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read --alerts file/);
  });

  it('refuses a watch --duration a timer cannot hold, which would have ended watch at once', () => {
    const env = { LIVEKIT_API_KEY: 'key', LIVEKIT_API_SECRET: 'secret' };
    const args = (duration: string) => ['--url', 'ws://h', '--room', 'r', `--duration=${duration}`];
    for (const duration of ['Infinity', '1e10', '2147484', 'NaN', '-1']) {
      assert.throws(() => parseWatchArgs(args(duration), env), /--duration: expected seconds > 0/);
    }
    const parsed = parseWatchArgs(args('2147483'), env);
    assert.ok(parsed !== 'help');
    assert.equal(parsed.durationMs, 2_147_483_000);
  });

  it('quotes a hostile argument in one short line, without its escape sequences', async () => {
    const evil = `\u001b]0;pwned\u0007\u001b[2J${'x'.repeat(1_000_000)}\n`;
    for (const argv of [
      [evil],
      ['rules', evil],
      ['rules', '--window', evil],
      ['rules', '--format', 'prometheusrule', '--label', evil],
      ['watch', '--url', evil, '--room', 'r'],
    ]) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, argv[0]);
      assert.ok(r.stderr.length < 1_000, `${r.stderr.length} characters`);
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      assert.doesNotMatch(r.stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    }
  });
});
