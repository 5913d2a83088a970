/**
 * THE METRIC CATALOG: every metric the plugin produces is declared here, once — its name, unit,
 * which direction is better, its component, what it measures, where it comes from, its
 * Prometheus family, its display label and its default alert thresholds. Everything else (the
 * TypeScript name unions, `summary()`'s keys, the Prometheus and OpenTelemetry instruments, the
 * rules generator, the wire format's validation, the terminal report, `watch`, the overlay and the
 * table in docs/METRICS.md) is derived from these declarations; `test/unit/catalog` proves it.
 *
 * Isomorphic: the overlay imports it too, so nothing here may import Node or the DOM.
 *
 * Adding a metric: an entry here, the code that produces its value (for a turn-level stat, a
 * `fromTurn` reader here is enough), and its test. See ARCHITECTURE.md.
 */
import type { TurnTimeline } from '../types.js';

/** What a metric's values are measured in. Inside the plugin durations are always ms. */
export type MetricUnit = 'ms' | 'tokens/s' | '%' | 'count';

/** The part of the pipeline a metric belongs to. */
export type MetricComponent = 'stt' | 'eou' | 'llm' | 'function' | 'tts' | 'pipeline' | 'plugin';

/** Labels the exporters set per sample (the user's constant labels come on top). */
export type SampleLabel = 'provider' | 'model' | 'function' | 'outcome' | 'component';

/** A distribution: `stats(name)` keeps its percentiles; Prometheus exposes it as a histogram. */
export interface StatDef {
  unit: 'ms' | 'tokens/s';
  /** Which way is good: alerts fire above a threshold for `lower`, below it for `higher`. */
  better: 'lower' | 'higher';
  component: MetricComponent;
  /** Shown in tables, the overlay and alerts, e.g. `LLM TTFT`. */
  label: string;
  /** One line: what it measures. Also the Prometheus HELP text. */
  description: string;
  prometheus: {
    /** The family name. Durations are exposed in seconds, so their names end in `_seconds`. */
    name: string;
    labels: readonly SampleLabel[];
    buckets: 'latency' | 'throughput';
  };
  /** Default alert thresholds on the rolling p90, in the metric's unit. */
  alert?: { warning: number; critical: number };
  /** The stat stands for its component in the bottleneck analysis (the spec's
   * analyze_bottlenecks: STT latency, TTFT, TTS latency). */
  bottleneck?: true;
  /** The component's error rate is shown beside this stat in tables. */
  errorsBeside?: 'stt' | 'llm' | 'tts' | 'function';
  /** For a turn-level stat: its value, read from each completed turn (interrupted or cancelled
   * included; `undefined` when the turn never got that far). */
  fromTurn?: (turn: TurnTimeline) => number | undefined;
}

/** A counter or gauge (no percentiles): request and error counts, concurrency, plugin health. */
export interface FamilyDef {
  type: 'counter' | 'gauge';
  /** `{request}`-style OpenTelemetry unit of one increment. */
  unit: string;
  component: MetricComponent;
  description: string;
  /** Where `summary()` shows it, for the docs (a dotted path; `<…>` stands for a label value). */
  summary?: string;
  prometheus: { name: string; labels: readonly string[] };
}

/** Percent of a component's requests that failed, over its `requests` and `errors` counters. */
export interface RateDef {
  unit: '%';
  better: 'lower';
  label: string;
  description: string;
  summary: string;
  alert: { warning: number; critical: number };
}

const PROVIDER = ['provider', 'model'] as const;

export const STAT_CATALOG = {
  stt_latency: {
    unit: 'ms',
    better: 'lower',
    component: 'stt',
    label: 'STT latency',
    description:
      'User end of speech to final transcript (streaming STT), or the STT request duration.',
    prometheus: { name: 'lk_agents_stt_latency_seconds', labels: PROVIDER, buckets: 'latency' },
    alert: { warning: 1500, critical: 2500 },
    bottleneck: true,
    errorsBeside: 'stt',
  },
  eou_delay: {
    unit: 'ms',
    better: 'lower',
    component: 'eou',
    label: 'end of turn',
    description: 'User end of speech to the end-of-turn decision (turn detection delay).',
    prometheus: { name: 'lk_agents_eou_delay_seconds', labels: [], buckets: 'latency' },
    // the framework's eou_metrics.endOfUtteranceDelayMs, as the turn's end_of_turn stage
    fromTurn: (turn) => turn.stages.find((stage) => stage.stage === 'end_of_turn')?.durationMs,
  },
  ttft: {
    unit: 'ms',
    better: 'lower',
    component: 'llm',
    label: 'LLM TTFT',
    description: 'LLM request start to first token.',
    prometheus: { name: 'lk_agents_llm_ttft_seconds', labels: PROVIDER, buckets: 'latency' },
    alert: { warning: 2000, critical: 3500 },
    bottleneck: true,
    errorsBeside: 'llm',
  },
  ttlt: {
    unit: 'ms',
    better: 'lower',
    component: 'llm',
    label: 'LLM TTLT',
    description: 'LLM request start to last token.',
    prometheus: { name: 'lk_agents_llm_ttlt_seconds', labels: PROVIDER, buckets: 'latency' },
  },
  tokens_per_sec: {
    unit: 'tokens/s',
    better: 'higher',
    component: 'llm',
    label: 'LLM tokens/s',
    description: 'LLM completion tokens per second of output.',
    prometheus: {
      name: 'lk_agents_llm_tokens_per_second',
      labels: PROVIDER,
      buckets: 'throughput',
    },
  },
  function_execution: {
    unit: 'ms',
    better: 'lower',
    component: 'function',
    label: 'tools',
    description: 'Tool (function) execution, start to result.',
    prometheus: {
      name: 'lk_agents_function_execution_seconds',
      labels: ['function', 'outcome'],
      buckets: 'latency',
    },
    errorsBeside: 'function',
  },
  tts_latency: {
    unit: 'ms',
    better: 'lower',
    component: 'tts',
    label: 'TTS TTFB',
    description: 'TTS request start to first audio.',
    prometheus: { name: 'lk_agents_tts_latency_seconds', labels: PROVIDER, buckets: 'latency' },
    bottleneck: true,
    errorsBeside: 'tts',
  },
  e2e_latency: {
    unit: 'ms',
    better: 'lower',
    component: 'pipeline',
    label: 'end-to-end',
    description: 'User stopped speaking (or turn committed) to agent audio (or answer) started.',
    prometheus: { name: 'lk_agents_e2e_latency_seconds', labels: [], buckets: 'latency' },
    fromTurn: (turn) => turn.e2eLatencyMs,
  },
  acoustic_e2e_latency: {
    unit: 'ms',
    better: 'lower',
    component: 'pipeline',
    label: 'e2e (acoustic)',
    description: "User's last voiced sample, as received, to agent audio started.",
    prometheus: { name: 'lk_agents_acoustic_e2e_latency_seconds', labels: [], buckets: 'latency' },
    // the turn's speech_end_lag stage starts at the acoustic end of speech (src/heard/)
    fromTurn: (turn) => {
      const lag = turn.stages.find((stage) => stage.stage === 'speech_end_lag');
      const agentAt = turn.agentStartedSpeakingAt;
      return lag && agentAt !== undefined && agentAt >= lag.startAt
        ? agentAt - lag.startAt
        : undefined;
    },
  },
  heard_latency: {
    unit: 'ms',
    better: 'lower',
    component: 'pipeline',
    label: 'heard (caller)',
    description: "Caller's last voiced sample to the answer audible there (caller-reported).",
    prometheus: { name: 'lk_agents_heard_latency_seconds', labels: [], buckets: 'latency' },
  },
  interruption_stop_latency: {
    unit: 'ms',
    better: 'lower',
    component: 'pipeline',
    label: 'barge-in stop',
    description: "Caller's first voiced sample over the agent, as received, to its audio stopped.",
    prometheus: {
      name: 'lk_agents_interruption_stop_latency_seconds',
      labels: [],
      buckets: 'latency',
    },
  },
  interruption_stop_latency_vad: {
    unit: 'ms',
    better: 'lower',
    component: 'pipeline',
    label: 'barge-in stop (VAD)',
    description: "Caller's speech start (VAD) over the agent to the agent's audio stopped.",
    prometheus: {
      name: 'lk_agents_interruption_stop_latency_vad_seconds',
      labels: [],
      buckets: 'latency',
    },
  },
  eot_inference_delay: {
    unit: 'ms',
    better: 'lower',
    component: 'eou',
    label: 'EOT inference',
    description: 'End-of-turn model: audio frame to its prediction received.',
    prometheus: { name: 'lk_agents_eot_inference_delay_seconds', labels: [], buckets: 'latency' },
  },
} as const satisfies Record<string, StatDef>;

export const ERROR_RATE: RateDef = {
  unit: '%',
  better: 'lower',
  label: 'error rate',
  description: "Percent of a component's requests that failed (errors / requests × 100).",
  summary: 'components.<component>.errorRate',
  alert: { warning: 5, critical: 10 },
};

/** What prices a usage quantity, in a price table entry (see `ModelPrice`). */
export type PriceField =
  | 'inputPerMillionTokens'
  | 'cachedInputPerMillionTokens'
  | 'outputPerMillionTokens'
  | 'inputAudioPerMillionTokens'
  | 'outputAudioPerMillionTokens'
  | 'perThousandCharacters'
  | 'perAudioMinute';

/** Who bills a usage quantity: a realtime model's tokens are apart from an LLM's. */
export type UsageComponent = 'stt' | 'llm' | 'tts' | 'realtime';

/** A usage quantity totalled per turn and per session (`summary().usage`). */
export interface UsageDef {
  component: UsageComponent;
  /** `{token}`, `{character}`, or `ms` (audio; Prometheus counts seconds). */
  unit: '{token}' | '{character}' | 'ms';
  description: string;
  /** The counter it adds to, and its `type` label value there. */
  family: 'llm_tokens' | 'realtime_tokens' | 'tts_characters' | 'tts_audio' | 'stt_audio';
  type?: string;
  /** The price table field that prices it; how many units that price is for. */
  price: PriceField;
  per: number;
}

const TOKENS_PRICE = 1_000_000;

export const USAGE_CATALOG = {
  promptTokens: {
    component: 'llm',
    unit: '{token}',
    description: 'LLM prompt tokens, cached ones included (llm_metrics.promptTokens).',
    family: 'llm_tokens',
    type: 'prompt',
    price: 'inputPerMillionTokens',
    per: TOKENS_PRICE,
  },
  promptCachedTokens: {
    component: 'llm',
    unit: '{token}',
    description: 'LLM prompt tokens read from the cache (llm_metrics.promptCachedTokens).',
    family: 'llm_tokens',
    type: 'prompt_cached',
    price: 'cachedInputPerMillionTokens',
    per: TOKENS_PRICE,
  },
  completionTokens: {
    component: 'llm',
    unit: '{token}',
    description: 'LLM completion tokens (llm_metrics.completionTokens).',
    family: 'llm_tokens',
    type: 'completion',
    price: 'outputPerMillionTokens',
    per: TOKENS_PRICE,
  },
  inputTextTokens: {
    component: 'realtime',
    unit: '{token}',
    description: 'Realtime input text tokens (inputTokenDetails.textTokens).',
    family: 'realtime_tokens',
    type: 'input_text',
    price: 'inputPerMillionTokens',
    per: TOKENS_PRICE,
  },
  inputAudioTokens: {
    component: 'realtime',
    unit: '{token}',
    description: 'Realtime input audio tokens (inputTokenDetails.audioTokens).',
    family: 'realtime_tokens',
    type: 'input_audio',
    price: 'inputAudioPerMillionTokens',
    per: TOKENS_PRICE,
  },
  inputImageTokens: {
    component: 'realtime',
    unit: '{token}',
    description: 'Realtime input image tokens (inputTokenDetails.imageTokens).',
    family: 'realtime_tokens',
    type: 'input_image',
    price: 'inputPerMillionTokens',
    per: TOKENS_PRICE,
  },
  inputCachedTokens: {
    component: 'realtime',
    unit: '{token}',
    description:
      'Realtime input tokens read from the cache, a part of the text and audio ones (inputTokenDetails.cachedTokens).',
    family: 'realtime_tokens',
    type: 'input_cached',
    price: 'cachedInputPerMillionTokens',
    per: TOKENS_PRICE,
  },
  outputTextTokens: {
    component: 'realtime',
    unit: '{token}',
    description: 'Realtime output text tokens (outputTokenDetails.textTokens).',
    family: 'realtime_tokens',
    type: 'output_text',
    price: 'outputPerMillionTokens',
    per: TOKENS_PRICE,
  },
  outputAudioTokens: {
    component: 'realtime',
    unit: '{token}',
    description: 'Realtime output audio tokens (outputTokenDetails.audioTokens).',
    family: 'realtime_tokens',
    type: 'output_audio',
    price: 'outputAudioPerMillionTokens',
    per: TOKENS_PRICE,
  },
  ttsCharacters: {
    component: 'tts',
    unit: '{character}',
    description: 'Characters synthesized (tts_metrics.charactersCount, each request once).',
    family: 'tts_characters',
    price: 'perThousandCharacters',
    per: 1_000,
  },
  ttsAudioMs: {
    component: 'tts',
    unit: 'ms',
    description: 'Audio synthesized, ms (tts_metrics.audioDurationMs, each request once).',
    family: 'tts_audio',
    price: 'perAudioMinute',
    per: 60_000,
  },
  sttAudioMs: {
    component: 'stt',
    unit: 'ms',
    description: 'Audio transcribed, ms (stt_metrics.audioDurationMs).',
    family: 'stt_audio',
    price: 'perAudioMinute',
    per: 60_000,
  },
} as const satisfies Record<string, UsageDef>;

export const FAMILY_CATALOG = {
  requests: {
    type: 'counter',
    unit: '{request}',
    component: 'pipeline',
    description:
      'Provider requests and tool executions that ended (retries and cancellations excluded).',
    summary: 'components.<component>.requests',
    prometheus: { name: 'lk_agents_requests_total', labels: ['component', 'provider', 'model'] },
  },
  errors: {
    type: 'counter',
    unit: '{request}',
    component: 'pipeline',
    description:
      'Requests that failed (the framework gave up on them) and tool executions that errored.',
    summary: 'components.<component>.errors',
    prometheus: { name: 'lk_agents_errors_total', labels: ['component', 'provider', 'model'] },
  },
  active_sessions: {
    type: 'gauge',
    unit: '{session}',
    component: 'pipeline',
    description: 'Agent sessions with metrics attached that have not closed.',
    summary: 'concurrency.activeSessions',
    prometheus: { name: 'lk_agents_active_sessions', labels: [] },
  },
  peak_sessions: {
    type: 'gauge',
    unit: '{session}',
    component: 'pipeline',
    description: 'Most agent sessions open at once since the exporter started.',
    summary: 'concurrency.peakSessions',
    prometheus: { name: 'lk_agents_peak_sessions', labels: [] },
  },
  data_messages: {
    type: 'counter',
    unit: '{message}',
    component: 'plugin',
    description:
      'Metrics messages handed to the room for its participants (data channel), by type.',
    prometheus: { name: 'lk_agents_data_messages_total', labels: ['type'] },
  },
  dropped_messages: {
    type: 'counter',
    unit: '{message}',
    component: 'plugin',
    description: 'Metrics messages for the room that were not delivered, by reason.',
    summary: 'health.droppedMessages.<reason>',
    prometheus: { name: 'lk_agents_plugin_dropped_messages_total', labels: ['reason'] },
  },
  wire_values_adjusted: {
    type: 'counter',
    unit: '{value}',
    component: 'plugin',
    description:
      'Values of outgoing room messages that viewers would refuse (e.g. a TTFT reported in ns), clamped or dropped so the message stays readable, by kind (count, amount, duration, rate, percent, timestamp, metric, other) and action (clamped, dropped).',
    prometheus: {
      name: 'lk_agents_plugin_wire_values_adjusted_total',
      labels: ['kind', 'action'],
    },
  },
  dropped_samples: {
    type: 'counter',
    unit: '{sample}',
    component: 'plugin',
    description: 'Samples the plugin dropped, by reason.',
    summary: 'health.droppedSamples.<reason>',
    prometheus: { name: 'lk_agents_plugin_dropped_samples_total', labels: ['reason'] },
  },
  folded_functions: {
    type: 'counter',
    unit: '{call}',
    component: 'plugin',
    description:
      'Tool executions recorded as function="other" because the distinct-name cap was reached.',
    prometheus: { name: 'lk_agents_plugin_function_names_folded_total', labels: [] },
  },
  odd_fields: {
    type: 'counter',
    unit: '{event}',
    component: 'plugin',
    description: 'Framework event fields that were missing or odd and were ignored.',
    summary: 'health.oddFields.<field>',
    prometheus: { name: 'lk_agents_plugin_odd_fields_total', labels: ['field'] },
  },
  internal_errors: {
    type: 'counter',
    unit: '{error}',
    component: 'plugin',
    description:
      'Failures the plugin contained, by source (sink, listener, logger, meter, room, framework, plugin) and reason (threw, rejected).',
    summary: 'health.containedErrors.<source:reason>',
    prometheus: { name: 'lk_agents_plugin_internal_errors_total', labels: ['source', 'reason'] },
  },
  disabled_features: {
    type: 'counter',
    unit: '{session}',
    component: 'plugin',
    // a counter of sessions, not a 0/1 gauge: sessions of one process (and the jobs a worker's
    // hub sums) can differ, and a counter stays true when summed and after a session ends
    description:
      'Sessions in which a plugin feature turned itself off because @livekit/agents was not the shape the plugin verified, by feature (acoustic_speech_end, audible_output, live_tool_calls, tts_adapter_dedupe).',
    summary: 'health.disabledFeatures.<feature>',
    prometheus: { name: 'lk_agents_plugin_features_disabled_total', labels: ['feature'] },
  },
  hub_disconnects: {
    type: 'counter',
    unit: '{connection}',
    component: 'plugin',
    description: 'Job-process connections to the worker hub that were lost.',
    prometheus: { name: 'lk_agents_plugin_hub_disconnects_total', labels: [] },
  },
  interruptions: {
    type: 'counter',
    unit: '{interruption}',
    component: 'pipeline',
    description:
      'Agent speech the caller interrupted (the speech ended interrupted after the caller spoke over it).',
    summary: 'turnTaking.interruptions',
    prometheus: { name: 'lk_agents_interruptions_total', labels: [] },
  },
  false_interruptions: {
    type: 'counter',
    unit: '{interruption}',
    component: 'pipeline',
    description:
      'Interruptions the framework found false (no words followed), by whether the agent resumed.',
    summary: 'turnTaking.falseInterruptions',
    prometheus: { name: 'lk_agents_false_interruptions_total', labels: ['resumed'] },
  },
  backchannels: {
    type: 'counter',
    unit: '{backchannel}',
    component: 'pipeline',
    description:
      'Caller backchannels ("mm-hm") the adaptive interruption model told from interruptions.',
    summary: 'turnTaking.backchannels',
    prometheus: { name: 'lk_agents_backchannels_total', labels: [] },
  },
  llm_tokens: {
    type: 'counter',
    unit: '{token}',
    component: 'llm',
    // not lk_agents_llm_tokens_total: its OpenTelemetry name would be lk_agents_llm_tokens, the
    // tokens/s histogram's
    description: 'LLM tokens by type: prompt (cached included), prompt_cached, completion.',
    summary: 'usage.entries[].amounts.promptTokens',
    prometheus: { name: 'lk_agents_llm_usage_tokens_total', labels: ['type', 'provider', 'model'] },
  },
  realtime_tokens: {
    type: 'counter',
    unit: '{token}',
    component: 'llm',
    description:
      'Realtime model tokens by type: input_text, input_audio, input_image, input_cached, output_text, output_audio.',
    summary: 'usage.entries[].amounts.inputAudioTokens',
    prometheus: {
      name: 'lk_agents_realtime_tokens_total',
      labels: ['type', 'provider', 'model'],
    },
  },
  tts_characters: {
    type: 'counter',
    unit: '{character}',
    component: 'tts',
    description: 'Characters sent to the TTS, each provider request counted once.',
    summary: 'usage.entries[].amounts.ttsCharacters',
    prometheus: { name: 'lk_agents_tts_characters_total', labels: ['provider', 'model'] },
  },
  tts_audio: {
    type: 'counter',
    unit: 's',
    component: 'tts',
    description: 'Seconds of audio the TTS produced, each provider request counted once.',
    summary: 'usage.entries[].amounts.ttsAudioMs',
    prometheus: { name: 'lk_agents_tts_audio_seconds_total', labels: ['provider', 'model'] },
  },
  stt_audio: {
    type: 'counter',
    unit: 's',
    component: 'stt',
    description: 'Seconds of audio the STT reported transcribing (streaming STT: as flushed).',
    summary: 'usage.entries[].amounts.sttAudioMs',
    prometheus: { name: 'lk_agents_stt_audio_seconds_total', labels: ['provider', 'model'] },
  },
  cost: {
    type: 'counter',
    unit: '{currency}',
    component: 'pipeline',
    description: 'Cost of the usage, by the price table passed to attachMetrics (none is shipped).',
    summary: 'usage.cost',
    prometheus: {
      name: 'lk_agents_cost_total',
      labels: ['currency', 'component', 'provider', 'model'],
    },
  },
  render_errors: {
    type: 'counter',
    unit: '{scrape}',
    component: 'plugin',
    description: 'Scrapes that failed to render.',
    prometheus: { name: 'lk_agents_plugin_render_errors_total', labels: [] },
  },
  scrape_refused: {
    type: 'counter',
    unit: '{connection}',
    component: 'plugin',
    description:
      'Connections /metrics closed unserved, by reason: connections (over maxConnections), timeout (slow request).',
    prometheus: { name: 'lk_agents_plugin_scrape_refused_total', labels: ['reason'] },
  },
} as const satisfies Record<string, FamilyDef>;
