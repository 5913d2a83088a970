/**
 * The package as a user gets it: built, packed with `npm pack`, installed into a fresh project
 * next to @livekit/agents, then imported from ESM and from CommonJS and attached to a real
 * AgentSession. Catches what unit tests cannot: the exports map, the built files, missing
 * dependencies.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;
const project = mkdtempSync(join(tmpdir(), 'lkam-user-'));
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_loglevel: 'error' },
  });

const SESSION_SCRIPT = (importLine: string) => `${importLine}
const agents = AGENTS;
agents.initializeLogger({ pretty: false, level: 'silent' });
const llm = new agents.voice.testing.FakeLLM([{ input: 'hi', content: 'Hello!', ttft: 60, duration: 90 }]);
const session = new agents.voice.AgentSession({ llm });
const metrics = attachMetrics(session, { labels: { agent_name: 'packed' } });
await session.start({ agent: new agents.voice.Agent({ instructions: 'x' }) });
await session.run({ userInput: 'hi' }).wait();
const s = metrics.summary();
await metrics.close();
await session.close();
console.log(JSON.stringify({ turns: s.turns, ttft: s.llm.ttft.p50, labels: s.labels, stats: metrics.stats('e2e_latency').count }));
process.exit(0);
`;

describe('the packed package in a fresh project', () => {
  before(() => {
    run('npm', ['run', 'build'], root);
    const tarball = run('npm', ['pack', '--pack-destination', project], root)
      .trim()
      .split('\n')
      .pop()!;
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const agentsVersion = JSON.parse(
      readFileSync(join(root, 'node_modules/@livekit/agents/package.json'), 'utf8'),
    ).version;
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', private: true, type: 'module' }),
    );
    run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        join(project, tarball),
        `@livekit/agents@${agentsVersion}`,
        `zod@${pkg.devDependencies.zod}`,
      ],
      project,
    );
  });
  after(() => rmSync(project, { recursive: true, force: true }));

  for (const [kind, file, importLine] of [
    [
      'ESM',
      'esm.mjs',
      "import * as AGENTS from '@livekit/agents';\nimport { attachMetrics } from 'livekit-agents-metrics';",
    ],
    [
      'CommonJS',
      'cjs.cjs',
      "const AGENTS = require('@livekit/agents');\nconst { attachMetrics } = require('livekit-agents-metrics');\n(async () => {",
    ],
  ] as const) {
    it(`attaches to a real session when imported from ${kind}`, () => {
      const body = SESSION_SCRIPT(importLine).replace(
        'const agents = AGENTS;',
        'const agents = AGENTS;',
      );
      writeFileSync(join(project, file), kind === 'CommonJS' ? `${body}})();\n` : body);
      const out = JSON.parse(run(process.execPath, [file], project).trim().split('\n').pop()!);
      assert.equal(out.turns, 1);
      assert.ok(out.ttft >= 59 && out.ttft < 120, `ttft ${out.ttft}`);
      assert.deepEqual(out.labels, { agent_name: 'packed' });
      assert.equal(out.stats, 1);
    });
  }

  it('installs the livekit-agents-metrics binary', () => {
    const bin = join(project, 'node_modules/.bin/livekit-agents-metrics');
    const rules = run(bin, ['rules', '--window', '10m'], project);
    assert.match(rules, /^# Prometheus rules for livekit-agents-metrics \(window 10m, for 2m\)/);
    assert.match(rules, /record: lk_agents:llm_ttft_seconds:p90_rate10m/);
  });

  it('ships types that resolve for a TypeScript user', () => {
    const types = readFileSync(
      join(project, 'node_modules/livekit-agents-metrics/dist/index.d.ts'),
      'utf8',
    );
    for (const name of [
      'attachMetrics',
      'SessionMetrics',
      'MetricsConfigError',
      'TurnTimeline',
      'MetricsSummary',
      'AttachMetricsOptions',
    ]) {
      assert.match(types, new RegExp(`\\b${name}\\b`), name);
    }
    assert.ok(
      readFileSync(join(project, 'node_modules/livekit-agents-metrics/dist/index.d.cts'), 'utf8')
        .length > 0,
    );
  });
});
