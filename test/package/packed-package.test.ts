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
import { build } from 'esbuild';
import { type LiveKitServer, startLiveKitServer } from '../support/livekit-server.js';

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
console.log(JSON.stringify({ turns: s.turns, ttft: s.stats.ttft.p50, labels: s.labels, stats: metrics.stats('e2e_latency').count }));
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

  it('publishes to a real LiveKit room, and its watch binary shows what was published', async () => {
    const server: LiveKitServer = await startLiveKitServer({ logDir: 'test-artifacts/package' });
    try {
      // The agent side, as a job would run it: a real session publishing into an rtc-node Room.
      writeFileSync(
        join(project, 'agent.mjs'),
        `import * as agents from '@livekit/agents';
import { Room } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { attachMetrics } from 'livekit-agents-metrics';
agents.initializeLogger({ pretty: false, level: 'silent' });
const token = new AccessToken(process.env.LIVEKIT_API_KEY, process.env.LIVEKIT_API_SECRET, { identity: 'packed-agent' });
token.addGrant({ room: 'packed', roomJoin: true, canPublishData: true, agent: true });
const room = new Room();
await room.connect(process.env.LIVEKIT_URL, await token.toJwt(), { autoSubscribe: false, dynacast: false });
const llm = new agents.voice.testing.FakeLLM([{ input: 'hi', content: 'Hello!', ttft: 150, duration: 200 }]);
const session = new agents.voice.AgentSession({ llm });
const metrics = attachMetrics(session, { room, publish: { intervalMs: 200 } });
await session.start({ agent: new agents.voice.Agent({ instructions: 'x' }) });
process.stdout.write('ready\\n');
await new Promise((r) => process.stdin.once('data', r));
await session.run({ userInput: 'hi' }).wait();
await new Promise((r) => setTimeout(r, 500));
await session.close();
await new Promise((r) => setTimeout(r, 500));
await room.disconnect();
process.exit(0);
`,
      );
      const env = {
        ...process.env,
        LIVEKIT_URL: server.url,
        LIVEKIT_API_KEY: server.apiKey,
        LIVEKIT_API_SECRET: server.apiSecret,
      };
      const { spawn } = await import('node:child_process');
      const agent = spawn(process.execPath, ['agent.mjs'], { cwd: project, env });
      let agentOut = '';
      agent.stdout.on('data', (d: Buffer) => (agentOut += d.toString()));
      agent.stderr.on('data', (d: Buffer) => (agentOut += d.toString()));
      const waitUntil = async (what: string, ok: () => boolean) => {
        const deadline = Date.now() + 30_000;
        while (!ok()) {
          if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${agentOut}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await waitUntil('agent ready', () => agentOut.includes('ready'));
      const bin = join(project, 'node_modules/.bin/livekit-agents-metrics');
      const watch = spawn(bin, ['watch', '--room', 'packed', '--json', '--duration', '20'], {
        cwd: project,
        env,
      });
      let lines = '';
      watch.stdout.on('data', (d: Buffer) => (lines += d.toString()));
      const watchExited = new Promise((resolve) => watch.once('exit', resolve));
      const messages = () =>
        lines
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l));
      await waitUntil('the summary watch asked for', () =>
        messages().some((m) => m.type === 'summary'),
      );
      agent.stdin.write('go\n');
      await waitUntil('the final summary', () =>
        messages().some((m) => m.type === 'summary' && m.final === true),
      );
      watch.kill('SIGINT');
      assert.equal(await watchExited, 0);
      const turn = messages().find((m) => m.type === 'turn');
      assert.ok(turn, 'a turn message');
      const ttft = turn.turn.stages.find(
        (st: { stage: string }) => st.stage === 'llm',
      ).firstOutputMs;
      assert.ok(ttft >= 149 && ttft < 260, `ttft ${ttft}`);
      const final = messages().find((m) => m.type === 'summary' && m.final);
      assert.equal(final.summary.turns, 1);
      assert.equal(final.room, 'packed');
      agent.kill();
    } finally {
      await server.stop();
    }
  });

  it('ships the overlay as a browser entry that bundles without Node built-ins', async () => {
    const esm = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const o = await import('livekit-agents-metrics/overlay'); console.log(typeof o.mountMetricsOverlay)",
      ],
      project,
    );
    assert.equal(esm.trim(), 'function', 'the overlay entry loads without react installed');
    const result = await build({
      stdin: {
        contents:
          "import { mountMetricsOverlay } from 'livekit-agents-metrics/overlay';\nmountMetricsOverlay(globalThis.room);",
        resolveDir: project,
      },
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      minify: true,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.text;
    assert.doesNotMatch(code, /from\s*["']node:|require\(["'](node:)?(fs|net|crypto|path)["']\)/);
    // the panel alone: the heard-latency measurement is passed in, never imported by it
    assert.ok(code.length < 24_000, `bundled overlay is ${code.length} bytes`);
  });

  it('ships the caller entry for rtc-node callers, in ESM and CJS', () => {
    const esm = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const c = await import('livekit-agents-metrics/caller'); console.log(typeof c.measureHeardLatency, typeof c.parseCallerMessage)",
      ],
      project,
    );
    assert.equal(esm.trim(), 'function undefined', 'the caller protocol stays internal');
    const cjs = run(
      process.execPath,
      ['-e', "console.log(typeof require('livekit-agents-metrics/caller').measureHeardLatency)"],
      project,
    );
    assert.equal(cjs.trim(), 'function');
  });

  it('exports at run time, from ESM and CJS, exactly the values its reviewed API report lists', () => {
    const entries = {
      'livekit-agents-metrics': 'index',
      'livekit-agents-metrics/caller': 'caller',
      'livekit-agents-metrics/loadtest': 'loadtest',
      'livekit-agents-metrics/overlay': 'overlay',
      // `/overlay/react` needs React, which this project leaves out (the overlay must load without
      // it); `npm run api:check` compares its runtime values with its report in the repository.
    };
    for (const [specifier, report] of Object.entries(entries)) {
      const reviewed = [
        ...readFileSync(join(root, `api/${report}.api.md`), 'utf8').matchAll(
          /^\| `(\w+)` \| value \|$/gm,
        ),
      ]
        .map((m) => m[1])
        .sort();
      const out = run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { createRequire } from 'node:module';
const esm = Object.keys(await import('${specifier}')).filter((k) => k !== 'default').sort();
const cjs = Object.keys(createRequire(process.cwd() + '/')('${specifier}')).sort();
console.log(JSON.stringify({ esm, cjs }));
process.exit(0);`,
        ],
        project,
      );
      const { esm, cjs } = JSON.parse(out.trim().split('\n').pop()!);
      assert.deepEqual(esm, reviewed, `${specifier} (ESM)`);
      assert.deepEqual(cjs, reviewed, `${specifier} (CJS)`);
    }
  });

  it('has one MetricsConfigError across its entry points, in ESM and CommonJS', () => {
    writeFileSync(
      join(project, 'errors.mjs'),
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const copies = {
  'main ESM': (await import('livekit-agents-metrics')).MetricsConfigError,
  'caller ESM': (await import('livekit-agents-metrics/caller')).MetricsConfigError,
  'overlay ESM': (await import('livekit-agents-metrics/overlay')).MetricsConfigError,
  'main CJS': require('livekit-agents-metrics').MetricsConfigError,
  'caller CJS': require('livekit-agents-metrics/caller').MetricsConfigError,
  'overlay CJS': require('livekit-agents-metrics/overlay').MetricsConfigError,
};
// one thrown by the package itself (an invalid option), from each format
const thrown = {};
for (const [format, mod] of [['ESM', await import('livekit-agents-metrics')], ['CJS', require('livekit-agents-metrics')]]) {
  try { mod.createMetricsRuntime({ hub: 'nowhere' }); } catch (error) { thrown['createMetricsRuntime ' + format] = error; }
}
const failures = [];
for (const [made, Made] of Object.entries(copies)) {
  const error = new Made('option', 'message');
  for (const [name, Class] of Object.entries(copies)) {
    if (!(error instanceof Class)) failures.push(made + ' instance is not a ' + name);
  }
}
for (const [where, error] of Object.entries(thrown)) {
  for (const [name, Class] of Object.entries(copies)) {
    if (!(error instanceof Class)) failures.push('the error of ' + where + ' is not a ' + name);
  }
}
for (const name of Object.keys(copies)) {
  if (new Error('x') instanceof copies[name] || ({ name: 'MetricsConfigError' }) instanceof copies[name]) {
    failures.push(name + ' accepts what is not one');
  }
}
console.log(JSON.stringify({
  failures,
  thrown: Object.keys(thrown).length,
  esmSame: copies['main ESM'] === copies['caller ESM'],
}));
process.exit(0);
`,
    );
    const out = JSON.parse(
      run(process.execPath, ['errors.mjs'], project).trim().split('\n').pop()!,
    );
    assert.deepEqual(out.failures, []);
    assert.equal(out.thrown, 2, 'createMetricsRuntime threw from ESM and from CJS');
    assert.equal(out.esmSame, true, 'the ESM entries share one class');
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
    // internals stay out of the declarations (stripInternal, and the entries export less)
    for (const name of ['ProcessExporter', 'SeriesStore', 'PriceBook', 'WIRE_VERSION']) {
      assert.doesNotMatch(types, new RegExp(`\\b${name}\\b`), name);
    }
    assert.ok(
      readFileSync(join(project, 'node_modules/livekit-agents-metrics/dist/index.d.cts'), 'utf8')
        .length > 0,
    );
  });
});
