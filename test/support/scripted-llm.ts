import {
  type APIConnectOptions,
  APIStatusError,
  DEFAULT_API_CONNECT_OPTIONS,
  llm,
  voice,
} from '@livekit/agents';
import { ensureFrameworkLogger } from './logging.js';
import { abortableSleep } from './timing.js';

ensureFrameworkLogger();

/** How a scripted request fails: a non-retryable APIStatusError after `afterMs`. */
export interface ScriptedFailure {
  /** Delay before the error is thrown; defaults to the response's ttft (or 0). */
  afterMs?: number;
  statusCode?: number;
  message?: string;
}

export interface ScriptedUsage {
  completionTokens: number;
  promptTokens?: number;
  promptCachedTokens?: number;
  totalTokens?: number;
}

/**
 * A FakeLLM response plus knobs FakeLLM lacks. Keyed, like FakeLLM, by the last user message
 * text, or for a reply after a tool by the JSON-stringified tool output (see toolOutputKey).
 */
export interface ScriptedResponse extends voice.testing.FakeLLMResponse {
  /** Sent as a final usage-only chunk so llm_metrics carry tokens and tokensPerSecond. */
  usage?: ScriptedUsage;
  fail?: ScriptedFailure | true;
  /**
   * Spread content chunks evenly between ttft and duration instead of sending them all at
   * ttft (FakeLLM's behaviour), so downstream TTS sees text trickle in.
   */
  streamContent?: boolean;
  /** Characters per content chunk. */
  chunkSize?: number;
}

export interface ScriptedLLMOptions {
  label?: string;
  provider?: string;
  model?: string;
  /** Used when no response matches the input; without it the stream ends empty like FakeLLM. */
  fallback?: Omit<ScriptedResponse, 'input'>;
}

/** Ground truth for one chat() call. Times are epoch ms. */
export interface LLMRequestRecord {
  index: number;
  requestId: string;
  /** The lookup key derived from the chat context, if any. */
  input?: string;
  matched: boolean;
  startedAt: number;
  firstChunkAt?: number;
  endedAt?: number;
  injectedTtftMs: number;
  injectedDurationMs: number;
  failed: boolean;
  cancelled: boolean;
}

/** FakeLLM keys a tool reply by the tool output as the framework serializes it. */
export function toolOutputKey(output: unknown): string {
  return JSON.stringify(output);
}

/**
 * The framework's FakeLLM with usage, injected failures and provider/model labels. FakeLLM's
 * stream class is not exported, so chat() returns a stream that reproduces its lookup rules
 * (last user message, tool output, or an `instructions:` system line) and its timing.
 */
export class ScriptedLLM extends voice.testing.FakeLLM {
  readonly requests: LLMRequestRecord[] = [];
  readonly #responses = new Map<string, ScriptedResponse>();
  readonly #label: string;
  readonly #provider: string;
  readonly #model: string;
  readonly #fallback?: Omit<ScriptedResponse, 'input'>;
  #failNext: Array<ScriptedFailure | true> = [];

  constructor(responses: ScriptedResponse[] = [], options: ScriptedLLMOptions = {}) {
    super(responses);
    for (const r of responses) this.#responses.set(r.input, r);
    this.#label = options.label ?? 'fake-llm';
    this.#provider = options.provider ?? 'fake-llm-provider';
    this.#model = options.model ?? 'fake-llm-model';
    this.#fallback = options.fallback;
  }

  override label(): string {
    return this.#label;
  }

  override get provider(): string {
    return this.#provider;
  }

  override get model(): string {
    return this.#model;
  }

  /** The next `n` requests fail whatever their input. */
  failNext(n = 1, failure: ScriptedFailure | true = true): void {
    for (let i = 0; i < n; i++) this.#failNext.push(failure);
  }

  override lookup(input: string): ScriptedResponse | undefined {
    return this.#responses.get(input);
  }

  override chat({
    chatCtx,
    toolCtx,
    connOptions = DEFAULT_API_CONNECT_OPTIONS,
  }: {
    chatCtx: llm.ChatContext;
    toolCtx?: llm.ToolContextLike;
    connOptions?: APIConnectOptions;
    parallelToolCalls?: boolean;
    toolChoice?: llm.ToolChoice;
    extraKwargs?: Record<string, unknown>;
  }): llm.LLMStream {
    return new ScriptedLLMStream(this, { chatCtx, toolCtx, connOptions });
  }

  /** @internal */
  _beginRequest(input: string | undefined): {
    record: LLMRequestRecord;
    response?: ScriptedResponse;
  } {
    const index = this.requests.length;
    let response = input === undefined ? undefined : this.#responses.get(input);
    const matched = response !== undefined;
    if (!response && input !== undefined && this.#fallback) {
      response = { ...this.#fallback, input };
    }
    const forced = this.#failNext.shift();
    if (forced !== undefined) {
      response = { ...(response ?? { input: input ?? '' }), fail: forced };
    }
    const record: LLMRequestRecord = {
      index,
      requestId: `fake-llm-req-${index}`,
      input,
      matched,
      startedAt: Date.now(),
      injectedTtftMs: response?.ttft ?? 0,
      injectedDurationMs: response?.duration ?? 0,
      failed: false,
      cancelled: false,
    };
    this.requests.push(record);
    return { record, response };
  }
}

class ScriptedLLMStream extends llm.LLMStream {
  readonly #llm: ScriptedLLM;
  // the base class starts its ttft clock in its constructor; injected delays are anchored here
  readonly #createdPerf = performance.now();

  constructor(
    scripted: ScriptedLLM,
    params: {
      chatCtx: llm.ChatContext;
      toolCtx?: llm.ToolContextLike;
      connOptions: APIConnectOptions;
    },
  ) {
    super(scripted, params);
    this.#llm = scripted;
  }

  protected async run(): Promise<void> {
    const signal = this.abortController.signal;
    const createdPerf = this.#createdPerf;
    const elapsed = () => performance.now() - createdPerf;
    const { record, response } = this.#llm._beginRequest(inputKey(this.chatCtx));
    try {
      if (!response) return;
      const ttft = response.ttft ?? 0;
      const duration = response.duration ?? 0;

      if (response.fail) {
        const failure = response.fail === true ? {} : response.fail;
        await abortableSleep((failure.afterMs ?? ttft) - elapsed(), signal);
        record.failed = true;
        throw new APIStatusError({
          message: failure.message ?? `fake LLM request ${record.requestId} failed`,
          options: {
            statusCode: failure.statusCode ?? 500,
            requestId: record.requestId,
            retryable: false,
          },
        });
      }

      await abortableSleep(ttft - elapsed(), signal);
      const content = response.content ?? '';
      const size = response.chunkSize ?? 3;
      const chunks: string[] = [];
      for (let i = 0; i < content.length; i += size) chunks.push(content.slice(i, i + size));

      const put = (chunk: llm.ChatChunk) => {
        if (signal.aborted) return;
        record.firstChunkAt ??= Date.now();
        this.queue.put(chunk);
      };
      const spreadMs = response.streamContent ? Math.max(0, duration - ttft) : 0;
      for (let i = 0; i < chunks.length && !signal.aborted; i++) {
        if (i > 0 && spreadMs > 0) {
          await abortableSleep(ttft + (spreadMs * i) / chunks.length - elapsed(), signal);
        }
        put({ id: record.requestId, delta: { role: 'assistant', content: chunks[i] } });
      }

      if (response.toolCalls && response.toolCalls.length > 0) {
        const calls = response.toolCalls.map((tc, i) =>
          llm.FunctionCall.create({
            callId: `${record.requestId}-call-${i}`,
            name: tc.name,
            args: JSON.stringify(tc.args),
          }),
        );
        put({ id: record.requestId, delta: { role: 'assistant', toolCalls: calls } });
      }

      await abortableSleep(duration - elapsed(), signal);
      if (response.usage && !signal.aborted) {
        const u = response.usage;
        const promptTokens = u.promptTokens ?? 0;
        this.queue.put({
          id: record.requestId,
          usage: {
            completionTokens: u.completionTokens,
            promptTokens,
            promptCachedTokens: u.promptCachedTokens ?? 0,
            totalTokens: u.totalTokens ?? u.completionTokens + promptTokens,
          },
        });
      }
    } finally {
      record.endedAt = Date.now();
      record.cancelled = signal.aborted;
    }
  }
}

/** FakeLLM's lookup key: an `instructions:` system tail, else the last user text / tool output. */
function inputKey(chatCtx: llm.ChatContext): string | undefined {
  const items = chatCtx.items;
  for (const item of items) {
    if (item.type === 'message' && item.role === 'system') {
      const lines = (item.textContent ?? '').split('\n');
      const tail = lines[lines.length - 1] ?? '';
      if (lines.length > 1 && tail.startsWith('instructions:')) return tail;
    }
  }
  const last = items[items.length - 1];
  if (!last) return undefined;
  if (last.type === 'message') return last.role === 'user' ? (last.textContent ?? '') : undefined;
  if (last.type === 'function_call_output') return last.output;
  return undefined;
}
