/**
 * Each query of the Grafana dashboard, sent as Grafana would send it (test/support/
 * grafana-queries.ts), against a real Prometheus scraping a real metrics server fed by real
 * AgentSessions, returns the series its panel draws: at least one, each with the labels its
 * legend names and a value to draw, and the expected label values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_LATENCY_BUCKETS_SECONDS } from '../../src/prometheus/metric-families.js';
import {
  type MetricsServer,
  type SessionMetrics,
  attachMetrics,
  startMetricsServer,
} from '../../src/index.js';
import { EnergySTT } from '../support/fake-stt.js';
import { FakeTTS } from '../support/fake-tts.js';
import {
  type PanelQuery,
  formatRegexVariable,
  legendLabels,
  parseLabelValuesQuery,
  prepareQuery,
  readDashboard,
  viewing,
} from '../support/grafana-queries.js';
import { PrometheusServer } from '../support/prometheus-server.js';
import { ScriptedLLM, toolOutputKey } from '../support/scripted-llm.js';
import {
  type HarnessSession,
  createTestTools,
  startTextSession,
  startVoiceSession,
} from '../support/session-harness.js';
import { speak } from '../support/speech.js';

const dashboard = readDashboard();

/** What one panel query returned, and what is wrong with it. */
interface QueryResult {
  query: PanelQuery;
  expr: string;
  series: Array<{ labels: Record<string, string>; values: number[] }>;
  problems: string[];
}

describe('the Grafana dashboard on a real Prometheus holding the plugin data', () => {
  let server: MetricsServer | undefined;
  let prometheus: PrometheusServer | undefined;
  const harnesses: HarnessSession[] = [];
  const attached: SessionMetrics[] = [];
  let target = '';

  before(async () => {
    server = await startMetricsServer({ port: 0, host: '127.0.0.1', hub: false });
    target = new URL(server.url).host;
    prometheus = await PrometheusServer.start([target], 1);

    // A voice session: spoken turns through STT, an LLM with a tool and token usage, and TTS.
    const speeches = await Promise.all(
      ['Hello there how are you today', 'What is the weather like in Paris'].map((t) => speak(t)),
    );
    const voice = await startVoiceSession({
      llm: new ScriptedLLM(
        [
          {
            input: 'hello',
            content: 'I am fine.',
            ttft: 120,
            duration: 200,
            usage: { completionTokens: 5 },
          },
          {
            input: 'weather',
            content: '',
            ttft: 80,
            duration: 100,
            toolCalls: [{ name: 'getWeather', args: { city: 'Paris' } }],
          },
          {
            input: toolOutputKey('sunny'),
            content: 'It is sunny.',
            ttft: 60,
            duration: 150,
            usage: { completionTokens: 4 },
          },
        ],
        { provider: 'acme-llm', model: 'acme-1' },
      ),
      tts: new FakeTTS({ ttfbMs: 120 }),
      stt: new EnergySTT({
        sttDelayMs: 200,
        transcripts: ['hello', 'weather', 'hello', 'weather'],
      }),
      tools: createTestTools({ weatherDelayMs: 100 }),
      minEndpointingDelayMs: 300,
    });
    harnesses.push(voice);
    const voiceMetrics = attachMetrics(voice.session);
    attached.push(voiceMetrics);
    // A text session whose TTS fails one request in two: the error-rate panel's errors.
    const text = await startTextSession({
      llm: new ScriptedLLM(
        [
          { input: 'one', content: 'Heard.', ttft: 40, duration: 60 },
          { input: 'two', content: 'This is never heard.', ttft: 40, duration: 60 },
        ],
        { provider: 'other-llm', model: 'other-1' },
      ),
      tts: new FakeTTS({ ttfbMs: 80, fail: (t) => t.includes('never') }),
    });
    harnesses.push(text);
    attached.push(attachMetrics(text.session));

    const round = async () => {
      await voice.input.playSilence(300);
      for (const speech of speeches) {
        const turn = new Promise<void>((resolve) => {
          const onTurn = () => {
            voiceMetrics.off('turn', onTurn);
            resolve();
          };
          voiceMetrics.on('turn', onTurn);
        });
        await voice.input.playSpeech(speech);
        await turn;
        await voice.input.playSilence(300);
      }
      for (const input of ['one', 'two']) {
        await text.session
          .run({ userInput: input })
          .wait()
          .catch(() => {});
      }
    };
    const p = prometheus;
    /** Waits until Prometheus holds these sample counts (sums over each family's series). */
    const holds = async (what: string, expected: Record<string, number>) => {
      let seen: Record<string, number> = {};
      await p
        .until(what, async () => {
          seen = {};
          for (const selector of Object.keys(expected)) {
            seen[selector] = (await p.scalar(`sum(${selector})`)) ?? 0;
          }
          return JSON.stringify(seen) === JSON.stringify(expected) ? true : undefined;
        })
        .catch((err: Error) => {
          throw new Error(`${err.message}: ${JSON.stringify(seen)}`);
        });
    };
    // rate() and increase() see only what a series gains after Prometheus first sampled it: the
    // second round is what the panels show.
    await round();
    await holds('Prometheus has the first round', {
      lk_agents_stt_latency_seconds_count: 2,
      lk_agents_function_execution_seconds_count: 1,
      lk_agents_errors_total: 1,
    });
    await round();
    await holds('Prometheus has the second round', {
      lk_agents_stt_latency_seconds_count: 4,
      lk_agents_function_execution_seconds_count: 2,
      lk_agents_errors_total: 2,
    });
  });

  after(async () => {
    for (const m of attached) await m.close();
    for (const h of harnesses) await h.close();
    await server?.close();
    await prometheus?.stop();
  });

  /** Runs every panel query as Grafana would at `now`, and lists what is wrong with each. */
  async function runAll(
    variables: Record<string, string>,
    queries = dashboard.queries,
  ): Promise<QueryResult[]> {
    const p = prometheus!;
    const requestComponents = (await p.query('lk_agents_requests_total'))
      .map((s) => s.metric.component!)
      .filter((c, i, a) => a.indexOf(c) === i)
      .sort();
    const errorComponents = (await p.query('lk_agents_errors_total')).map(
      (s) => s.metric.component!,
    );
    const expectedValues: Record<string, string[]> = {
      function: ['getWeather'],
      instance: [target],
      le: [...DEFAULT_LATENCY_BUCKETS_SECONDS.map(String), '+Inf'],
      provider: ['acme-llm'],
      model: ['acme-1'],
    };
    const now = Date.now() / 1000;
    const results: QueryResult[] = [];
    for (const query of queries) {
      const prepared = prepareQuery(query, viewing(dashboard, variables));
      let series: QueryResult['series'];
      if (prepared.instant) {
        series = (await p.query(prepared.expr, now)).map((s) => ({
          labels: s.metric,
          values: [Number(s.value[1])],
        }));
      } else {
        // Grafana aligns both ends of the range down to a multiple of the step.
        const step = prepared.stepMs / 1000;
        const end = Math.floor(now / step) * step;
        const start = Math.floor((now - dashboard.rangeMs / 1000) / step) * step;
        series = (await p.queryRange(prepared.expr, start, end, step)).map((s) => ({
          labels: s.metric,
          values: s.values.map(([, v]) => Number(v)),
        }));
      }
      const problems: string[] = [];
      const labels = legendLabels(query.legendFormat);
      if (series.length === 0) problems.push('no series');
      if (labels.length === 0 && series.length > 1) {
        problems.push(`${series.length} series for the one line "${query.legendFormat}"`);
      }
      for (const s of series) {
        const name = JSON.stringify(s.labels);
        for (const label of labels) {
          if (!s.labels[label]) problems.push(`${name} lacks the legend's label ${label}`);
        }
        if (!s.values.some(Number.isFinite)) problems.push(`${name} has no value to draw`);
      }
      for (const label of labels) {
        let expected = expectedValues[label];
        if (label === 'component') {
          if (/^topk\(1,/.test(query.expr)) expected = undefined;
          else if (query.expr.includes('lk_agents_requests_total')) expected = requestComponents;
          else expected = ['llm', 'stt', 'tts'];
        }
        if (!expected) continue;
        const got = [...new Set(series.map((s) => s.labels[label]!))].sort();
        if (JSON.stringify(got) !== JSON.stringify([...expected].sort())) {
          problems.push(`${label}: got ${got.join(', ')}, expected ${expected.join(', ')}`);
        }
      }
      // a component that failed shows an error rate above 0 at some step
      if (query.expr.includes('lk_agents_errors_total')) {
        for (const component of errorComponents) {
          const line = series.find((s) => s.labels.component === component);
          if (!line?.values.some((v) => v > 0)) problems.push(`no ${component} errors drawn`);
        }
      }
      if (/^topk\(1,/.test(query.expr) && series.length !== 1) {
        problems.push(`${series.length} series from topk(1)`);
      }
      results.push({ query, expr: prepared.expr, series, problems });
    }
    return results;
  }

  /** Polls until every query passes (the newest samples reach an aligned step within a few
   * seconds), then asserts on the last run. */
  async function checkAll(variables: Record<string, string>, what: string) {
    let last: QueryResult[] = [];
    await prometheus!
      .until(
        `every panel query draws its series (${what})`,
        async () => {
          last = await runAll(variables);
          return last.every((r) => r.problems.length === 0) ? last : undefined;
        },
        20_000,
      )
      .catch(() => {});
    const failing = last.filter((r) => r.problems.length > 0);
    assert.deepEqual(
      failing.map((r) => `${r.query.where}: ${r.problems.join('; ')}\n  ${r.expr}`),
      [],
    );
    return last;
  }

  it('the job variable lists the scrape job', async () => {
    const [job] = dashboard.variables;
    assert.equal(job?.name, 'job');
    const { metric, label } = parseLabelValuesQuery(job.query);
    assert.deepEqual(await prometheus!.labelValues(label, metric), ['agents']);
  });

  it('every panel query returns the series its legend names, with values, for "All" jobs', async () => {
    const job = dashboard.variables[0]!;
    const results = await checkAll({ job: formatRegexVariable(job, 'All', ['agents']) }, 'All');
    assert.equal(results.length, dashboard.queries.length);
    // the failed TTS requests show on the error-rate panel (checked above), the others at 0
    const errorRate = results.find((r) => r.query.panelTitle === 'Error rate by component')!;
    const stt = errorRate.series.find((s) => s.labels.component === 'stt')!;
    assert.equal(Math.max(...stt.values.filter(Number.isFinite)), 0);
    for (const r of results) {
      console.log(
        `dashboard query ${r.query.where} (${r.query.instant ? 'instant' : 'range'}): ` +
          `${r.series.length} series; ${r.expr.replace(/\s+/g, ' ')}`,
      );
    }
  });

  it('and the same series with one job selected', async () => {
    const job = dashboard.variables[0]!;
    const all = await runAll({ job: formatRegexVariable(job, 'All', ['agents']) });
    const one = await checkAll({ job: formatRegexVariable(job, ['agents'], ['agents']) }, 'agents');
    assert.deepEqual(
      one.map((r) => r.series.length),
      all.map((r) => r.series.length),
    );
    assert.match(one[0]!.expr, /\{job=~"agents"\}/);
  });

  it('flags a query that draws nothing, or whose legend names a label its series lack', async () => {
    const base = dashboard.queries.find((q) => q.panelTitle === 'Requests / s by component')!;
    const broken: PanelQuery[] = [
      { ...base, where: 'typo in the legend', legendFormat: '{{components}}' },
      { ...base, where: 'no data', expr: base.expr.replace('job=~', 'component="nope",job=~') },
      { ...base, where: 'one line, many series', legendFormat: 'requests' },
    ];
    const results = await runAll({ job: '.*' }, broken);
    assert.deepEqual(
      results.map((r) => [r.query.where, r.problems.length > 0]),
      broken.map((q) => [q.where, true]),
    );
    assert.match(results[0]!.problems.join('\n'), /lacks the legend's label components/);
    assert.equal(results[1]!.problems[0], 'no series');
    assert.match(results[2]!.problems[0]!, /^\d+ series for the one line "requests"$/);
  });
});
