import type { Component } from '../types.js';
import type { ProviderRef, Signal, UsageReport } from './signals.js';
import type { UsageComponent, UsageField } from '../types.js';

/** Counts fields that were missing or odd, by `event.field`, so they are visible, not fatal. */
export type OddFieldSink = (field: string) => void;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;

/** A finite number or undefined; anything else present is counted as odd. */
function num(o: Obj, field: string, where: string, odd: OddFieldSink): number | undefined {
  const v = o[field];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v !== undefined && v !== null) odd(`${where}.${field}`);
  return undefined;
}

/** Longest tool, provider, model or speech id name kept: they become label values and keys of
 * the summary, and an LLM can invent a tool name of any length. */
export const MAX_NAME_LENGTH = 128;

/** A non-empty string field, cut to {@link MAX_NAME_LENGTH} characters. */
function str(o: Obj, field: string): string | undefined {
  const v = o[field];
  if (typeof v !== 'string' || v.length === 0) return undefined;
  return v.length > MAX_NAME_LENGTH ? `${v.slice(0, MAX_NAME_LENGTH - 1)}…` : v;
}

/** `ChatMessage.metrics` are in seconds; this is the one place they become milliseconds. */
const secondsToMs = (s: number | undefined) => (s === undefined ? undefined : s * 1000);

/** Provider and model from the framework's metrics metadata, falling back to the label. */
function providerOf(metadata: unknown, label: unknown): ProviderRef {
  const meta = isObj(metadata) ? metadata : {};
  const provider = str(meta, 'modelProvider');
  const model = str(meta, 'modelName');
  const fallback = str({ label }, 'label') ?? 'unknown';
  return {
    provider: provider && provider !== 'unknown' ? provider : fallback,
    model: model ?? 'unknown',
  };
}

export function providerOfSource(source: unknown): ProviderRef {
  if (!isObj(source)) return { provider: 'unknown', model: 'unknown' };
  // `provider`/`model` are getters on the framework's LLM/STT/TTS classes; they may throw in
  // third-party subclasses, so read them defensively.
  const read = (key: string): unknown => {
    try {
      return source[key];
    } catch {
      return undefined;
    }
  };
  let label = read('label');
  if (typeof label === 'function') {
    try {
      label = (label as () => unknown).call(source);
    } catch {
      label = undefined;
    }
  }
  return providerOf({ modelProvider: read('provider'), modelName: read('model') }, label);
}

function optionalNumber<K extends string>(
  m: Obj,
  field: K,
  where: string,
  odd: OddFieldSink,
): Partial<Record<K, number>> {
  const v = num(m, field, where, odd);
  return v === undefined ? {} : ({ [field]: v } as Record<K, number>);
}

/** The framework's request id, bounded: it is only used as a key, and a provider may invent it. */
function requestIdOf(m: Obj): { requestId?: string } {
  const id = str(m, 'requestId');
  return id && id.length <= 200 ? { requestId: id } : {};
}

/** The usage fields of a report, from its own fields (`[usage field, report field path]`). */
function usageOf(
  m: Obj,
  component: UsageComponent,
  fields: readonly (readonly [UsageField, string, string?])[],
  where: string,
  odd: OddFieldSink,
): { usage?: UsageReport } {
  const amounts: Partial<Record<UsageField, number>> = {};
  let any = false;
  for (const [field, key, sub] of fields) {
    const holder = sub === undefined ? m : isObj(m[key]) ? (m[key] as Obj) : undefined;
    if (!holder) continue;
    const v = num(holder, sub ?? key, where, odd);
    // usage is a count or a duration: a negative or absurd one is a provider's bug, not usage
    if (v === undefined || v < 0 || v > Number.MAX_SAFE_INTEGER) continue;
    amounts[field] = v;
    any = true;
  }
  return any ? { usage: { component, amounts } } : {};
}

const LLM_USAGE = [
  ['promptTokens', 'promptTokens'],
  ['promptCachedTokens', 'promptCachedTokens'],
  ['completionTokens', 'completionTokens'],
] as const;
const REALTIME_USAGE = [
  ['inputTextTokens', 'inputTokenDetails', 'textTokens'],
  ['inputAudioTokens', 'inputTokenDetails', 'audioTokens'],
  ['inputImageTokens', 'inputTokenDetails', 'imageTokens'],
  ['inputCachedTokens', 'inputTokenDetails', 'cachedTokens'],
  ['outputTextTokens', 'outputTokenDetails', 'textTokens'],
  ['outputAudioTokens', 'outputTokenDetails', 'audioTokens'],
] as const;
const TTS_USAGE = [
  ['ttsCharacters', 'charactersCount'],
  ['ttsAudioMs', 'audioDurationMs'],
] as const;
const STT_USAGE = [['sttAudioMs', 'audioDurationMs']] as const;

const ERROR_COMPONENTS: Record<string, Component> = {
  stt_error: 'stt',
  llm_error: 'llm',
  realtime_model_error: 'llm',
  tts_error: 'tts',
};

/** Duration and time-to-first-output of a request report; undefined when the duration is unusable.
 * The framework reports -1 as the first output when none arrived (a failed or empty request). */
function requestTiming(m: Obj, where: string, firstOutputField: string, odd: OddFieldSink) {
  const durationMs = num(m, 'durationMs', where, odd);
  if (durationMs === undefined || durationMs < 0) {
    odd(`${where}.durationMs`);
    return undefined;
  }
  const first = num(m, firstOutputField, where, odd);
  return { durationMs, firstOutputMs: first !== undefined && first >= 0 ? first : undefined };
}

function normalizeMetrics(m: Obj, at: number, odd: OddFieldSink): Signal[] {
  const type = m.type;
  const timestamp = num(m, 'timestamp', String(type), odd) ?? at;
  const speechId = str(m, 'speechId');
  switch (type) {
    case 'stt_metrics': {
      const durationMs = num(m, 'durationMs', 'stt_metrics', odd) ?? 0;
      const streamed = m.streamed === true;
      return [
        {
          kind: 'stt_request',
          at: timestamp,
          durationMs,
          streamed,
          ...requestIdOf(m),
          ...usageOf(m, 'stt', STT_USAGE, 'stt_metrics', odd),
          ...providerOf(m.metadata, m.label),
        },
      ];
    }
    case 'llm_metrics':
    case 'realtime_model_metrics': {
      const where = String(type);
      const timing = requestTiming(m, where, 'ttftMs', odd);
      if (!timing) return [];
      const { durationMs } = timing;
      const tokens =
        num(m, type === 'llm_metrics' ? 'completionTokens' : 'outputTokens', where, odd) ?? 0;
      return [
        {
          kind: 'llm_request',
          at: timestamp,
          speechId,
          startedAt: timestamp - durationMs,
          ttftMs: timing.firstOutputMs,
          durationMs,
          cancelled: m.cancelled === true,
          completionTokens: tokens,
          tokensPerSec: num(m, 'tokensPerSecond', where, odd) ?? 0,
          ...requestIdOf(m),
          ...(type === 'llm_metrics'
            ? usageOf(m, 'llm', LLM_USAGE, where, odd)
            : usageOf(m, 'realtime', REALTIME_USAGE, where, odd)),
          ...providerOf(m.metadata, m.label),
        },
      ];
    }
    case 'tts_metrics': {
      const timing = requestTiming(m, 'tts_metrics', 'ttfbMs', odd);
      if (!timing) return [];
      const { durationMs } = timing;
      return [
        {
          kind: 'tts_request',
          at: timestamp,
          speechId,
          startedAt: timestamp - durationMs,
          ttfbMs: timing.firstOutputMs,
          durationMs,
          cancelled: m.cancelled === true,
          streamed: m.streamed === true,
          ...requestIdOf(m),
          ...optionalNumber(m, 'charactersCount', 'tts_metrics', odd),
          ...optionalNumber(m, 'audioDurationMs', 'tts_metrics', odd),
          ...usageOf(m, 'tts', TTS_USAGE, 'tts_metrics', odd),
          ...providerOf(m.metadata, m.label),
        },
      ];
    }
    case 'eou_metrics': {
      const stoppedSpeakingAt = num(m, 'lastSpeakingTimeMs', 'eou_metrics', odd);
      // 0 means the framework did not detect the end of speech: nothing to anchor on.
      if (!stoppedSpeakingAt) return [];
      return [
        {
          kind: 'end_of_turn',
          at: timestamp,
          speechId,
          stoppedSpeakingAt,
          transcriptionDelayMs: num(m, 'transcriptionDelayMs', 'eou_metrics', odd) ?? 0,
          endOfTurnDelayMs: num(m, 'endOfUtteranceDelayMs', 'eou_metrics', odd) ?? 0,
        },
      ];
    }
    case 'interruption_metrics': {
      // numBackchannels counts those detected since the model's previous report
      const n = num(m, 'numBackchannels', 'interruption_metrics', odd);
      return n !== undefined && n > 0 && Number.isInteger(n) && n < 1e6
        ? [{ kind: 'backchannels', at: timestamp, count: n }]
        : [];
    }
    case 'eot_inference_metrics': {
      const delayMs = num(m, 'detectionDelay', 'eot_inference_metrics', odd);
      return delayMs !== undefined && delayMs >= 0
        ? [{ kind: 'eot_inference', at: timestamp, delayMs }]
        : [];
    }
    default:
      return [];
  }
}

function normalizeChatItem(item: Obj, at: number, odd: OddFieldSink): Signal[] {
  if (item.type !== 'message') return [];
  const metrics = isObj(item.metrics) ? item.metrics : {};
  const seconds = (field: string) => secondsToMs(num(metrics, field, 'message.metrics', odd));
  if (item.role === 'user') {
    return [
      {
        kind: 'user_message',
        at,
        createdAt: num(item, 'createdAt', 'message', odd) ?? at,
        stoppedSpeakingAt: seconds('stoppedSpeakingAt'),
        transcriptionDelayMs: seconds('transcriptionDelay'),
        endOfTurnDelayMs: seconds('endOfTurnDelay'),
      },
    ];
  }
  if (item.role === 'assistant') {
    return [
      {
        kind: 'agent_message',
        at,
        interrupted: item.interrupted === true,
        startedSpeakingAt: seconds('startedSpeakingAt'),
        e2eLatencyMs: seconds('e2eLatency'),
      },
    ];
  }
  return [];
}

function normalizeTools(ev: Obj, odd: OddFieldSink): Signal[] {
  const calls = Array.isArray(ev.functionCalls) ? ev.functionCalls : [];
  const outputs = Array.isArray(ev.functionCallOutputs) ? ev.functionCallOutputs : [];
  const signals: Signal[] = [];
  // Calls and outputs are parallel arrays (see the framework's zipFunctionCallsAndOutputs).
  calls.forEach((call: unknown, i: number) => {
    const output: unknown = outputs[i];
    if (!isObj(call) || !isObj(output)) {
      odd('function_tools_executed.output');
      return;
    }
    const startedAt = num(call, 'createdAt', 'function_call', odd);
    const endedAt = num(output, 'createdAt', 'function_call_output', odd);
    if (startedAt === undefined || endedAt === undefined) return;
    signals.push({
      kind: 'tool_finished',
      at: endedAt,
      callId: str(call, 'callId') ?? `index_${i}`,
      name: str(call, 'name') ?? 'unknown',
      startedAt,
      isError: output.isError === true,
    });
  });
  return signals;
}

/**
 * Turns one AgentSession event (as emitted, or as recorded in a fixture) into signals.
 * Pure: it reads only plain fields, never calls into the framework, and never throws on
 * malformed input (odd fields are reported to `odd`).
 */
export function normalizeSessionEvent(event: unknown, odd: OddFieldSink): Signal[] {
  if (!isObj(event)) return [];
  const at = num(event, 'createdAt', String(event.type), odd) ?? Date.now();
  switch (event.type) {
    case 'metrics_collected':
      return isObj(event.metrics) ? normalizeMetrics(event.metrics, at, odd) : [];
    case 'conversation_item_added':
      return isObj(event.item) ? normalizeChatItem(event.item, at, odd) : [];
    case 'function_tools_executed':
      return normalizeTools(event, odd);
    case 'speech_created': {
      const id = isObj(event.speechHandle) ? str(event.speechHandle, 'id') : undefined;
      if (!id) {
        odd('speech_created.speechHandle');
        return [];
      }
      return [
        { kind: 'speech_created', at, speechId: id, source: str(event, 'source') ?? 'unknown' },
      ];
    }
    case 'user_input_transcribed':
      return event.isFinal === true ? [{ kind: 'stt_final_transcript', at }] : [];
    case 'agent_state_changed': {
      const state = str(event, 'newState') ?? 'unknown';
      const changed: Signal = { kind: 'agent_state', at, state };
      return state === 'speaking' ? [{ kind: 'agent_speaking', at }, changed] : [changed];
    }
    case 'user_state_changed':
      return [{ kind: 'user_state', at, state: str(event, 'newState') ?? 'unknown' }];
    case 'agent_false_interruption':
      return [{ kind: 'false_interruption', at, resumed: event.resumed === true }];
    case 'error': {
      const error = isObj(event.error) ? event.error : {};
      const component = typeof error.type === 'string' ? ERROR_COMPONENTS[error.type] : undefined;
      if (!component) return [];
      return [
        {
          kind: 'error',
          at,
          component,
          // `recoverable` says whether the framework retries the request. A realtime model's
          // "recoverable" error ends its response (the session goes on); nothing retries it.
          recoverable: error.recoverable === true && error.type !== 'realtime_model_error',
          ...(isObj(event.source) ? providerOfSource(event.source) : providerOf({}, error.label)),
        },
      ];
    }
    case 'close':
      return [{ kind: 'session_closed', at }];
    default:
      return [];
  }
}

/** Items a speech handle reports as they are added: tool calls start, tool outputs end them. */
export function normalizeSpeechItem(
  speechId: string,
  item: unknown,
  at: number,
  odd: OddFieldSink,
): Signal[] {
  if (!isObj(item)) return [];
  if (item.type === 'function_call') {
    return [
      {
        kind: 'tool_started',
        // The framework resets a call's createdAt to the moment its execution starts.
        at: num(item, 'createdAt', 'function_call', odd) ?? at,
        speechId,
        callId: str(item, 'callId') ?? 'unknown',
        name: str(item, 'name') ?? 'unknown',
      },
    ];
  }
  if (item.type === 'function_call_output') {
    return [
      {
        kind: 'tool_finished',
        at: num(item, 'createdAt', 'function_call_output', odd) ?? at,
        speechId,
        callId: str(item, 'callId') ?? 'unknown',
        name: str(item, 'name') ?? 'unknown',
        isError: item.isError === true,
      },
    ];
  }
  return [];
}
