import { type llm, voice } from '@livekit/agents';

const T = voice.AgentSessionEventTypes;

/** Every AgentSession event the fixtures capture. */
export const RECORDED_SESSION_EVENTS = [
  T.UserInputTranscribed,
  T.AgentStateChanged,
  T.UserStateChanged,
  T.ConversationItemAdded,
  T.FunctionToolsExecuted,
  T.MetricsCollected,
  T.SpeechCreated,
  T.Error,
  T.Close,
] as const;

export type RecordedSessionEventType = (typeof RECORDED_SESSION_EVENTS)[number];

/** A session event (or a synthetic speech_* event) as plain JSON. */
export interface RecordedEvent {
  type: string;
  createdAt: number;
  [key: string]: unknown;
}

export type SerializedChatItem = { type: string; id: string; createdAt: number } & Record<
  string,
  unknown
>;

type ChatItemLike = llm.ChatItem | llm.AgentHandoffItem;

interface ErrorPayload {
  type?: string;
  label?: string;
  recoverable?: boolean;
  error?: unknown;
}

interface ErrorSource {
  label?: string | (() => string);
  provider?: string;
  model?: string;
}

/**
 * Subscribes to every session event and keeps a JSON-safe copy in emission order. For each
 * speech handle it also records the items the handle reports through the internal
 * `_addItemAddedCallback` (tool execution start / completion, assistant messages) as
 * `speech_item_added`, and its completion as `speech_done`.
 */
export class SessionEventRecorder {
  readonly events: RecordedEvent[] = [];
  readonly #session: voice.AgentSession;
  readonly #listeners: Array<[RecordedSessionEventType, (ev: unknown) => void]> = [];

  constructor(session: voice.AgentSession) {
    this.#session = session;
    for (const type of RECORDED_SESSION_EVENTS) {
      const listener = (ev: unknown) => this.#record(type, ev);
      this.#listeners.push([type, listener]);
      session.on(type, listener as never);
    }
  }

  detach(): void {
    for (const [type, listener] of this.#listeners) this.#session.off(type, listener as never);
    this.#listeners.length = 0;
  }

  ofType(type: string): RecordedEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** metrics_collected payloads, optionally of one metrics type (e.g. 'tts_metrics'). */
  metrics(type?: string): Array<Record<string, unknown>> {
    return this.ofType('metrics_collected')
      .map((e) => e.metrics as Record<string, unknown>)
      .filter((m) => type === undefined || m.type === type);
  }

  #record(type: RecordedSessionEventType, ev: unknown): void {
    this.events.push(serializeSessionEvent(type, ev));
    if (type === T.SpeechCreated) {
      const handle = (ev as voice.SpeechCreatedEvent).speechHandle;
      const speechId = handle.id;
      handle._addItemAddedCallback((item) => {
        this.events.push({
          type: 'speech_item_added',
          speechId,
          item: serializeChatItem(item),
          createdAt: Date.now(),
        });
      });
      handle.addDoneCallback((sh) => {
        this.events.push({
          type: 'speech_done',
          speechId,
          interrupted: sh.interrupted,
          createdAt: Date.now(),
        });
      });
    }
  }
}

export function serializeSessionEvent(type: string, ev: unknown): RecordedEvent {
  const e = ev as Record<string, unknown> & { createdAt: number };
  switch (type) {
    case 'conversation_item_added':
      return { type, item: serializeChatItem(e.item as ChatItemLike), createdAt: e.createdAt };
    case 'function_tools_executed': {
      const f = ev as voice.FunctionToolsExecutedEvent;
      return {
        type,
        functionCalls: f.functionCalls.map(serializeChatItem),
        functionCallOutputs: f.functionCallOutputs.map(serializeChatItem),
        createdAt: f.createdAt,
      };
    }
    case 'speech_created': {
      const s = ev as voice.SpeechCreatedEvent;
      return {
        type,
        userInitiated: s.userInitiated,
        source: s.source,
        speechHandle: { id: s.speechHandle.id },
        createdAt: s.createdAt,
      };
    }
    case 'error':
      return {
        type: 'error',
        createdAt: e.createdAt,
        error: serializeErrorPayload(e.error as ErrorPayload),
        source: serializeSource(e.source as ErrorSource | undefined),
      };
    case 'close':
      return {
        type,
        reason: e.reason,
        error: e.error ? serializeErrorPayload(e.error as ErrorPayload) : null,
        createdAt: e.createdAt,
      };
    default:
      return toJson(ev) as RecordedEvent;
  }
}

export function serializeChatItem(item: ChatItemLike): SerializedChatItem {
  switch (item.type) {
    case 'message':
      return {
        type: item.type,
        id: item.id,
        role: item.role,
        interrupted: item.interrupted,
        createdAt: item.createdAt,
        metrics: toJson(item.metrics),
        textContent: item.textContent ?? null,
      };
    case 'function_call':
      return {
        type: item.type,
        id: item.id,
        callId: item.callId,
        name: item.name,
        args: item.args,
        createdAt: item.createdAt,
      };
    case 'function_call_output':
      return {
        type: item.type,
        id: item.id,
        callId: item.callId,
        name: item.name,
        output: item.output,
        isError: item.isError,
        createdAt: item.createdAt,
      };
    default:
      return { type: item.type, id: item.id, createdAt: item.createdAt };
  }
}

function serializeErrorPayload(payload: ErrorPayload | undefined): Record<string, unknown> | null {
  if (!payload) return null;
  const inner = payload.error;
  return {
    type: payload.type ?? null,
    label: payload.label ?? null,
    recoverable: payload.recoverable ?? null,
    error:
      inner instanceof Error
        ? { name: inner.name, message: inner.message }
        : { name: 'Error', message: String(inner) },
  };
}

function serializeSource(source: ErrorSource | undefined): Record<string, unknown> | null {
  if (!source) return null;
  // LLM exposes label() as a method, STT/TTS as a property
  const label = typeof source.label === 'function' ? source.label() : source.label;
  return { label: label ?? null, provider: source.provider ?? null, model: source.model ?? null };
}

function toJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
