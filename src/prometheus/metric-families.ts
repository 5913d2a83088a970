import type { StatName } from '../types.js';

export type FamilyType = 'histogram' | 'counter' | 'gauge';

export interface FamilyDef {
  name: string;
  help: string;
  type: FamilyType;
  /** Labels the family sets itself, after the constant labels. */
  labelNames: readonly string[];
  /** Histograms: which bucket layout (see BucketLayout). */
  buckets?: 'latency' | 'throughput';
}

/** Latency histograms in seconds. They include the spec's alert thresholds (1.5, 2, 2.5, 3.5 s)
 * so a rule on a threshold reads a bucket boundary rather than an interpolation. */
export const DEFAULT_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 5, 7.5, 10, 20,
];
export const DEFAULT_THROUGHPUT_BUCKETS: readonly number[] = [
  5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500,
];

export interface BucketLayout {
  latency: readonly number[];
  throughput: readonly number[];
}

export const DEFAULT_BUCKETS: BucketLayout = {
  latency: DEFAULT_LATENCY_BUCKETS_SECONDS,
  throughput: DEFAULT_THROUGHPUT_BUCKETS,
};

const PROVIDER = ['provider', 'model'] as const;

export const FAMILIES = {
  stt_latency: {
    name: 'lk_agents_stt_latency_seconds',
    help: 'User end of speech to final transcript (streaming STT), or STT request duration.',
    type: 'histogram',
    labelNames: PROVIDER,
    buckets: 'latency',
  },
  ttft: {
    name: 'lk_agents_llm_ttft_seconds',
    help: 'LLM request start to first token.',
    type: 'histogram',
    labelNames: PROVIDER,
    buckets: 'latency',
  },
  ttlt: {
    name: 'lk_agents_llm_ttlt_seconds',
    help: 'LLM request start to last token.',
    type: 'histogram',
    labelNames: PROVIDER,
    buckets: 'latency',
  },
  tts_latency: {
    name: 'lk_agents_tts_latency_seconds',
    help: 'TTS request start to first audio.',
    type: 'histogram',
    labelNames: PROVIDER,
    buckets: 'latency',
  },
  function_execution: {
    name: 'lk_agents_function_execution_seconds',
    help: 'Tool (function) execution, start to result.',
    type: 'histogram',
    labelNames: ['function', 'outcome'],
    buckets: 'latency',
  },
  e2e_latency: {
    name: 'lk_agents_e2e_latency_seconds',
    help: 'User stopped speaking (or turn committed) to agent audio (or answer) started.',
    type: 'histogram',
    labelNames: [],
    buckets: 'latency',
  },
  tokens_per_sec: {
    name: 'lk_agents_llm_tokens_per_second',
    help: 'LLM completion tokens per second of output.',
    type: 'histogram',
    labelNames: PROVIDER,
    buckets: 'throughput',
  },
  requests: {
    name: 'lk_agents_requests_total',
    help: 'Provider requests and tool executions that ended (retries and cancellations excluded).',
    type: 'counter',
    labelNames: ['component', ...PROVIDER],
  },
  errors: {
    name: 'lk_agents_errors_total',
    help: 'Requests that failed (the framework gave up on them) and tool executions that errored.',
    type: 'counter',
    labelNames: ['component', ...PROVIDER],
  },
  active_sessions: {
    name: 'lk_agents_active_sessions',
    help: 'Agent sessions with metrics attached that have not closed.',
    type: 'gauge',
    labelNames: [],
  },
  peak_sessions: {
    name: 'lk_agents_peak_sessions',
    help: 'Most agent sessions open at once since the exporter started.',
    type: 'gauge',
    labelNames: [],
  },
  data_messages: {
    name: 'lk_agents_data_messages_total',
    help: 'Metrics messages handed to the room for its participants (data channel), by type.',
    type: 'counter',
    labelNames: ['type'],
  },
  dropped_messages: {
    name: 'lk_agents_plugin_dropped_messages_total',
    help: 'Metrics messages for the room that were not delivered, by reason.',
    type: 'counter',
    labelNames: ['reason'],
  },
  dropped_samples: {
    name: 'lk_agents_plugin_dropped_samples_total',
    help: 'Samples the plugin dropped, by reason.',
    type: 'counter',
    labelNames: ['reason'],
  },
  folded_functions: {
    name: 'lk_agents_plugin_function_names_folded_total',
    help: 'Tool executions recorded as function="other" because the distinct-name cap was reached.',
    type: 'counter',
    labelNames: [],
  },
  odd_fields: {
    name: 'lk_agents_plugin_odd_fields_total',
    help: 'Framework event fields that were missing or odd and were ignored.',
    type: 'counter',
    labelNames: ['field'],
  },
  internal_errors: {
    name: 'lk_agents_plugin_internal_errors_total',
    help: 'Exceptions inside the plugin that were contained.',
    type: 'counter',
    labelNames: [],
  },
  hub_disconnects: {
    name: 'lk_agents_plugin_hub_disconnects_total',
    help: 'Job-process connections to the worker hub that were lost.',
    type: 'counter',
    labelNames: [],
  },
  render_errors: {
    name: 'lk_agents_plugin_render_errors_total',
    help: 'Scrapes that failed to render.',
    type: 'counter',
    labelNames: [],
  },
} as const satisfies Record<string, FamilyDef>;

export type FamilyKey = keyof typeof FAMILIES;

/** The histogram family each stat feeds. */
export const STAT_FAMILY: Readonly<Record<StatName, FamilyKey>> = {
  stt_latency: 'stt_latency',
  ttft: 'ttft',
  ttlt: 'ttlt',
  tts_latency: 'tts_latency',
  function_execution: 'function_execution',
  e2e_latency: 'e2e_latency',
  tokens_per_sec: 'tokens_per_sec',
};
