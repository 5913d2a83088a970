/**
 * Turns the session's events into signals: one shape per fact the metrics need. The readers of
 * fields are in `read-fields.ts`, the metrics reports in `normalize-metrics.ts`.
 */
import type { Component } from '../types.js';
import { normalizeMetrics } from './normalize-metrics.js';
import {
  type Obj,
  type OddFieldSink,
  isObj,
  num,
  providerOf,
  providerOfSource,
  secondsToMs,
  str,
} from './read-fields.js';
import type { Signal } from './signals.js';

export { MAX_NAME_LENGTH, type OddFieldSink, providerOfSource } from './read-fields.js';

const ERROR_COMPONENTS: Record<string, Component> = {
  stt_error: 'stt',
  llm_error: 'llm',
  realtime_model_error: 'llm',
  tts_error: 'tts',
};

/** `{ [as]: o[field] }` when it is a non-empty string, else nothing. */
function optionalString<K extends string>(
  o: Obj,
  field: string,
  as: K,
): Partial<Record<K, string>> {
  const v = str(o, field);
  return v === undefined ? {} : ({ [as]: v } as Record<K, string>);
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
        ...optionalString(item, 'id', 'itemId'),
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
        {
          kind: 'speech_created',
          at,
          speechId: id,
          source: str(event, 'source') ?? 'unknown',
          ...(typeof event.userInitiated === 'boolean'
            ? { userInitiated: event.userInitiated }
            : {}),
        },
      ];
    }
    case 'user_input_transcribed':
      // Only a realtime model's input transcription carries an item id
      // (voice/agent_activity.ts onInputAudioTranscriptionCompleted); an STT's has none.
      return event.isFinal === true
        ? [{ kind: 'stt_final_transcript', at, ...optionalString(event, 'itemId', 'itemId') }]
        : [];
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
