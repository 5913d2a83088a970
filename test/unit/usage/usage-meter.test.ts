import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveOptions } from '../../../src/config.js';
import type { Signal } from '../../../src/ingest/signals.js';
import { MetricsCore } from '../../../src/metrics-core.js';
import { renderExposition } from '../../../src/prometheus/exposition.js';
import { DEFAULT_BUCKETS } from '../../../src/prometheus/metric-families.js';
import { FunctionNameCap, SessionSeriesSink } from '../../../src/prometheus/series-sink.js';
import { SeriesStore } from '../../../src/prometheus/series-store.js';
import { createMetricsRuntime } from '../../../src/runtime.js';
import type { AttachMetricsOptions } from '../../../src/options.js';
import type { TurnTimeline, UsageEvent } from '../../../src/types.js';

const LLM = { provider: 'api.openai.com', model: 'gpt-4o-mini' };
const TTS = { provider: 'api.openai.com', model: 'tts-1' };
const STT = { provider: 'deepgram', model: 'nova-3' };

function core(options: AttachMetricsOptions = {}) {
  const turns: TurnTimeline[] = [];
  const usage: UsageEvent[] = [];
  const c = new MetricsCore(
    resolveOptions({ runtime: createMetricsRuntime({ hub: false }), ...options }),
    { turn: (t) => turns.push(t), usage: (u) => usage.push(u) },
  );
  return { c, turns, usage };
}

/** A text turn: STT audio before it (no speech id), an LLM request, two TTS requests. */
function turn(i: number, t: number): Signal[] {
  const id = `speech_${i}`;
  return [
    {
      kind: 'stt_request',
      at: t - 10,
      durationMs: 0,
      streamed: true,
      usage: { component: 'stt', amounts: { sttAudioMs: 5000 } },
      ...STT,
    },
    { kind: 'speech_created', at: t, speechId: id, source: 'generate_reply' },
    {
      kind: 'llm_request',
      at: t + 300,
      speechId: id,
      startedAt: t,
      ttftMs: 100,
      durationMs: 300,
      cancelled: false,
      completionTokens: 20,
      tokensPerSec: 100,
      usage: {
        component: 'llm',
        amounts: { promptTokens: 1000, promptCachedTokens: 400, completionTokens: 20 },
      },
      ...LLM,
    },
    ...[0, 1].map((k): Signal => ({
      kind: 'tts_request',
      at: t + 500 + k,
      speechId: id,
      startedAt: t + 400,
      ttfbMs: 80,
      durationMs: 100,
      cancelled: false,
      usage: { component: 'tts', amounts: { ttsCharacters: 30, ttsAudioMs: 1500 } },
      ...TTS,
    })),
    { kind: 'agent_speaking', at: t + 520 },
    { kind: 'speech_done', at: t + 2000, speechId: id, interrupted: false },
  ];
}

const PRICES = {
  currency: 'USD',
  models: [
    {
      component: 'llm' as const,
      model: 'gpt-4o-mini',
      inputPerMillionTokens: 0.15,
      cachedInputPerMillionTokens: 0.075,
      outputPerMillionTokens: 0.6,
    },
    { component: 'tts' as const, model: 'tts-1', perThousandCharacters: 15 },
  ],
};

describe('usage', () => {
  it("gives a discarded preemptive generation's usage to the answer's turn: the session total is the turns' sum", () => {
    const { c, turns } = core();
    const discarded = turn(0, 9_000).filter(
      (s) => s.kind === 'speech_created' || s.kind === 'llm_request',
    );
    const done: Signal = {
      kind: 'speech_done',
      at: 9_900,
      speechId: 'speech_0',
      interrupted: true,
      scheduled: false,
    };
    for (const s of [
      ...discarded,
      ...turn(1, 10_000).slice(0, 3),
      done,
      ...turn(1, 10_000).slice(3),
    ]) {
      c.ingest(s);
    }
    assert.deepEqual(
      turns.map((t) => t.id),
      ['speech_1'],
    );
    const prompt = (entries: { amounts: { promptTokens?: number } }[]) =>
      entries.reduce((sum, e) => sum + (e.amounts.promptTokens ?? 0), 0);
    assert.equal(prompt(c.summary().usage.entries), 2000);
    assert.equal(prompt(turns[0]!.usage!.entries), 2000);
  });

  it('totals usage per session and per turn, by component, provider and model', () => {
    const { c, turns } = core();
    for (const s of [...turn(1, 10_000), ...turn(2, 20_000)]) c.ingest(s);
    const usage = c.summary().usage;
    assert.deepEqual(usage, {
      entries: [
        { component: 'stt', ...STT, amounts: { sttAudioMs: 10_000 } },
        {
          component: 'llm',
          ...LLM,
          amounts: { promptTokens: 2000, promptCachedTokens: 800, completionTokens: 40 },
        },
        { component: 'tts', ...TTS, amounts: { ttsCharacters: 120, ttsAudioMs: 6000 } },
      ],
    });
    assert.equal(turns.length, 2);
    // each turn carries its own requests and the transcription reported before it
    for (const t of turns) {
      assert.deepEqual(
        t.usage!.entries.map((e) => [
          e.component,
          e.amounts.sttAudioMs ?? e.amounts.promptTokens ?? e.amounts.ttsCharacters,
        ]),
        [
          ['stt', 5000],
          ['llm', 1000],
          ['tts', 60],
        ],
      );
      assert.equal(t.usage!.cost, undefined);
    }
  });

  it('prices each request with the price table: per turn, per session, per event', () => {
    const { c, turns, usage } = core({ prices: PRICES });
    for (const s of turn(1, 10_000)) c.ingest(s);
    const llm = (600 * 0.15 + 400 * 0.075 + 20 * 0.6) / 1e6;
    const tts = (60 / 1000) * 15;
    const summary = c.summary().usage;
    assert.equal(summary.currency, 'USD');
    assert.ok(Math.abs(summary.cost! - (llm + tts)) < 1e-12);
    assert.ok(Math.abs(turns[0]!.usage!.cost! - (llm + tts)) < 1e-12);
    // the STT has no price: its usage is kept, without a cost
    const stt = summary.entries.find((e) => e.component === 'stt')!;
    assert.equal(stt.cost, undefined);
    assert.deepEqual(
      usage.map((u) => [u.component, u.cost?.currency]),
      [
        ['stt', undefined],
        ['llm', 'USD'],
        ['tts', 'USD'],
        ['tts', 'USD'],
      ],
    );
  });

  it('exposes usage and cost as Prometheus counters, audio in seconds', () => {
    const store = new SeriesStore(DEFAULT_BUCKETS);
    const sink = new SessionSeriesSink({ store }, { agent_name: 'a' }, new FunctionNameCap());
    const fed = new MetricsCore(
      resolveOptions({ runtime: createMetricsRuntime({ hub: false }), prices: PRICES }),
      { usage: (u) => sink.usage(u) },
    );
    for (const s of turn(1, 10_000)) fed.ingest(s);
    const text = renderExposition(
      { store, activeSessions: 0, peakSessions: 0, renderErrors: 0 },
      false,
    );
    const line = (re: RegExp) => assert.match(text, re);
    line(
      /^lk_agents_llm_usage_tokens_total\{agent_name="a",type="prompt",provider="api.openai.com",model="gpt-4o-mini"\} 1000$/m,
    );
    line(/^lk_agents_llm_usage_tokens_total\{[^}]*type="prompt_cached"[^}]*\} 400$/m);
    line(/^lk_agents_llm_usage_tokens_total\{[^}]*type="completion"[^}]*\} 20$/m);
    line(
      /^lk_agents_tts_characters_total\{agent_name="a",provider="api.openai.com",model="tts-1"\} 60$/m,
    );
    line(/^lk_agents_tts_audio_seconds_total\{[^}]*\} 3$/m);
    line(
      /^lk_agents_stt_audio_seconds_total\{agent_name="a",provider="deepgram",model="nova-3"\} 5$/m,
    );
    line(
      /^lk_agents_cost_total\{agent_name="a",currency="USD",component="tts",provider="api.openai.com",model="tts-1"\} 0.9$/m,
    );
    line(/^lk_agents_cost_total\{[^}]*component="llm"[^}]*\} 0.000132$/m);
  });
});
