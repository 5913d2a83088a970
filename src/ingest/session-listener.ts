import { isSpanContextValid, trace } from '@opentelemetry/api';
import { type FrameworkContext, onSpeechItemAdded, ttsStreams } from '../framework/index.js';
import { Guard } from '../util/guard.js';
import {
  normalizeSessionEvent,
  normalizeSpeechItem,
  type OddFieldSink,
  providerOfSource,
} from './normalize.js';
import { sessionModelOf } from './read-fields.js';
import { RequestDedupe } from './request-dedupe.js';
import type { Signal } from './signals.js';

/** The AgentSession events the metrics are derived from. */
export const SESSION_EVENTS = [
  'metrics_collected',
  'conversation_item_added',
  'function_tools_executed',
  'speech_created',
  'user_input_transcribed',
  'agent_state_changed',
  'user_state_changed',
  'agent_false_interruption',
  'error',
  'close',
] as const;

/** Signals that can carry the trace of the turn they were emitted in. */
const TRACED = new Set<Signal['kind']>(['speech_created', 'llm_request', 'tts_request']);

/** The trace id of the span active now, when the agent's OpenTelemetry tracing is on (with no
 * tracer provider the span context is invalid, and there is no trace to point to). */
function activeTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && isSpanContextValid(context) ? context.traceId : undefined;
}

/** An LLM or TTS request report with no first output that was not cancelled: a failure's. */
function isOutputless(signal: Signal): boolean {
  if (signal.kind === 'llm_request') return signal.ttftMs === undefined && !signal.cancelled;
  if (signal.kind === 'tts_request') return signal.ttfbMs === undefined && !signal.cancelled;
  return false;
}

/** The part of `voice.AgentSession` the listener uses: an event emitter. */
export interface SessionLike {
  on(event: string, listener: (ev: unknown) => void): unknown;
  off(event: string, listener: (ev: unknown) => void): unknown;
  /** The session's STT, which names the provider of a streaming transcript. */
  readonly stt?: unknown;
  /** The session's TTS; whether it streams tells the framework's adapter reports apart. */
  readonly tts?: unknown;
  /** The running agent, whose own TTS (if any) replaces the session's. */
  readonly currentAgent?: unknown;
}

/** The public part of `voice.SpeechHandle` the listener uses (its item callback is internal:
 * src/framework/speech-handle.ts). */
interface SpeechHandleLike {
  id: string;
  interrupted?: boolean;
  scheduled?: boolean;
  addDoneCallback?(cb: (handle: SpeechHandleLike) => void): void;
}

export interface SessionListenerSinks {
  signal(signal: Signal): void;
  odd: OddFieldSink;
  /** An exception inside the plugin's own handling; contained, never rethrown. */
  internalError(where: string, error: unknown): void;
  /** For the framework's internals (src/framework): the guard, and where a feature turns off.
   * Default: a guard that logs nothing, and features turn off silently. */
  framework?: FrameworkContext;
}

const SILENT: FrameworkContext = {
  guard: new Guard({ warn: () => {} }),
  featureDisabled: () => {},
};

/**
 * Subscribes to one AgentSession (and the speech handles it creates) and forwards normalized
 * signals. Every callback is wrapped: nothing the plugin does can throw into the session.
 */
export class SessionListener {
  private readonly handlers = new Map<string, (ev: unknown) => void>();
  private readonly dedupe = new RequestDedupe();
  private detached = false;

  constructor(
    private readonly session: SessionLike,
    private readonly sinks: SessionListenerSinks,
  ) {
    for (const name of SESSION_EVENTS) {
      const handler = (ev: unknown) => this.onEvent(name, ev);
      this.handlers.set(name, handler);
      try {
        session.on(name, handler);
      } catch (error) {
        // a session that refuses one event still gives the others
        sinks.internalError(`on:${name}`, error);
      }
    }
  }

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    for (const [name, handler] of this.handlers) {
      try {
        this.session.off(name, handler);
      } catch (error) {
        this.sinks.internalError(`off:${name}`, error);
      }
    }
    this.handlers.clear();
  }

  private onEvent(name: string, ev: unknown): void {
    if (this.detached) return;
    try {
      const traceId =
        name === 'metrics_collected' || name === 'speech_created' ? activeTraceId() : undefined;
      for (const signal of normalizeSessionEvent(ev, this.sinks.odd)) {
        if (
          signal.kind === 'tts_request' ||
          signal.kind === 'stt_request' ||
          signal.kind === 'llm_request'
        ) {
          const streams =
            signal.kind === 'tts_request' ? ttsStreams(this.session, this.framework) : undefined;
          if (this.dedupe.isRepeat(signal, streams)) continue;
        }
        if (isOutputless(signal)) {
          // A failed request reports its metrics and its error in one synchronous run, in either
          // order (the realtime model reports first: @livekit/agents-plugin-openai 1.9
          // realtime_model.ts handleResponseDone). Waiting one microtask lets the error come
          // first, so the ledger takes the report as the failed request's, not as a success.
          queueMicrotask(() => this.forward(signal, traceId));
          continue;
        }
        this.forward(signal, traceId);
      }
      if (name === 'speech_created') this.watchSpeech(ev);
    } catch (error) {
      this.sinks.internalError(name, error);
    }
  }

  private forward(signal: Signal, traceId: string | undefined): void {
    if (this.detached) return;
    try {
      if (traceId && TRACED.has(signal.kind)) (signal as { traceId?: string }).traceId = traceId;
      // A streaming transcript does not say who made it; the session's STT does.
      if (signal.kind === 'stt_final_transcript') {
        Object.assign(signal, providerOfSource(this.session.stt));
      }
      // A realtime model's report names no model; the session's model does.
      if (signal.kind === 'llm_request' && signal.realtime && signal.model === 'unknown') {
        const model = sessionModelOf(this.session);
        if (model.model !== 'unknown') Object.assign(signal, model);
      }
      this.sinks.signal(signal);
    } catch (error) {
      this.sinks.internalError(signal.kind, error);
    }
  }

  private get framework(): FrameworkContext {
    return this.sinks.framework ?? SILENT;
  }

  private watchSpeech(ev: unknown): void {
    const handle = (ev as { speechHandle?: SpeechHandleLike }).speechHandle;
    if (!handle || typeof handle.id !== 'string') return;
    const speechId = handle.id;
    onSpeechItemAdded(handle, this.framework, (item) => {
      if (this.detached) return;
      try {
        for (const s of normalizeSpeechItem(speechId, item, Date.now(), this.sinks.odd)) {
          this.sinks.signal(s);
        }
      } catch (error) {
        this.sinks.internalError('speech_item_added', error);
      }
    });
    if (typeof handle.addDoneCallback === 'function') {
      handle.addDoneCallback((done) => {
        if (this.detached) return;
        try {
          this.sinks.signal({
            kind: 'speech_done',
            at: Date.now(),
            speechId,
            interrupted: done?.interrupted === true,
            // a discarded preemptive generation was never scheduled (SpeechHandle.scheduled)
            scheduled: done?.scheduled !== false,
          });
        } catch (error) {
          this.sinks.internalError('speech_done', error);
        }
      });
    } else {
      this.sinks.odd('speech_handle.addDoneCallback');
    }
  }
}
