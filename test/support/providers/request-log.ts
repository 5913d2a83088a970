/**
 * The ground truth of the local provider servers: one entry per request they served, with the
 * latency they applied and what a real provider would bill for it. Tests compare the plugin's
 * numbers to these entries, never to their own expectations of what the server did.
 */

/** What a request billed, in the provider's units. Absent fields were not billed. */
export interface BilledUsage {
  promptTokens?: number;
  promptCachedTokens?: number;
  completionTokens?: number;
  /** Characters of text synthesized (TTS). */
  characters?: number;
  /** Seconds of audio received (STT) or produced (TTS). */
  audioSeconds?: number;
  /** Realtime models bill tokens by modality. */
  inputTextTokens?: number;
  inputAudioTokens?: number;
  inputCachedTokens?: number;
  outputTextTokens?: number;
  outputAudioTokens?: number;
}

/** How a request ended, from the server's side. */
export type RequestOutcome =
  /** Served in full. */
  | 'ok'
  /** Answered with an HTTP error status (see `status`). */
  | 'http_error'
  /** The server closed the connection or WebSocket mid-request. */
  | 'dropped'
  /** The server stopped sending and never finished (the client gave up or the test ended). */
  | 'stalled'
  /** The client went away before the request finished. */
  | 'client_closed';

export interface ProviderRequest {
  /** Server-assigned, unique within the server. */
  id: string;
  /** What was asked, e.g. `chat`, `speech`, `transcription`, `listen_utterance`, `tts_segment`. */
  kind: string;
  model: string;
  /** Epoch ms the request arrived (for a stream segment: its first input). */
  startedAt: number;
  /** Epoch ms the first output byte or token was sent; absent when none was. */
  firstByteAt?: number;
  /** Epoch ms the request was finished by either side. */
  endedAt?: number;
  /** The delay the test injected before the first output, in ms. */
  injectedFirstByteMs: number;
  /** HTTP status sent (101 for a WebSocket request), when there was one. */
  status?: number;
  outcome?: RequestOutcome;
  usage: BilledUsage;
  /** Free-form details a test may want (the prompt's last user message, the transcript, …). */
  detail: Record<string, unknown>;
}

/** Append-only log of the requests one server served. */
export class RequestLog {
  readonly entries: ProviderRequest[] = [];
  #next = 0;

  constructor(private readonly prefix: string) {}

  /** A new entry; `startedAt` defaults to now (pass the arrival time of a request read first). */
  begin(
    kind: string,
    model: string,
    injectedFirstByteMs: number,
    startedAt = Date.now(),
  ): ProviderRequest {
    const entry: ProviderRequest = {
      id: `${this.prefix}_${++this.#next}`,
      kind,
      model,
      startedAt,
      injectedFirstByteMs,
      usage: {},
      detail: {},
    };
    this.entries.push(entry);
    return entry;
  }

  /** Entries of one kind (all kinds when omitted). */
  of(kind?: string): ProviderRequest[] {
    return kind === undefined ? [...this.entries] : this.entries.filter((e) => e.kind === kind);
  }

  /** Entries that ended with `outcome`. */
  withOutcome(outcome: RequestOutcome, kind?: string): ProviderRequest[] {
    return this.of(kind).filter((e) => e.outcome === outcome);
  }

  /** Sum of one usage field over the entries of `kind`. */
  billed(field: keyof BilledUsage, kind?: string): number {
    return this.of(kind).reduce((sum, e) => sum + (e.usage[field] ?? 0), 0);
  }

  clear(): void {
    this.entries.length = 0;
  }
}

/** Marks the first output of a request (only the first call counts). */
export function markFirstByte(entry: ProviderRequest): void {
  entry.firstByteAt ??= Date.now();
}

/** Ends a request once; later calls (e.g. a close after an error) keep the first outcome. */
export function finish(entry: ProviderRequest, outcome: RequestOutcome, status?: number): void {
  if (entry.outcome !== undefined) return;
  entry.outcome = outcome;
  entry.endedAt = Date.now();
  if (status !== undefined) entry.status = status;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A deterministic audible tone (440 Hz at about −12 dBFS), as 16-bit little-endian PCM. */
export function tonePcm(sampleRate: number, durationMs: number, phaseOffset = 0): Buffer {
  const samples = Math.round((sampleRate * durationMs) / 1000);
  const buf = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    const v = Math.sin((2 * Math.PI * 440 * (i + phaseOffset)) / sampleRate) * 8000;
    buf.writeInt16LE(Math.round(v), i * 2);
  }
  return buf;
}

/** Root-mean-square level of 16-bit little-endian PCM. */
export function pcmRms(pcm: Buffer): number {
  const n = Math.floor(pcm.length / 2);
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = pcm.readInt16LE(i * 2);
    sum += v * v;
  }
  return Math.sqrt(sum / n);
}

/** A queue of per-request behaviours a test sets up front; `fallback` serves the rest. */
export class Script<T> {
  #queue: T[] = [];
  constructor(private fallback: T) {}

  /** Behaviours for the next requests, in order. */
  push(...items: T[]): this {
    this.#queue.push(...items);
    return this;
  }

  /** The behaviour of every request once the queue is empty. */
  setDefault(item: T): this {
    this.fallback = item;
    return this;
  }

  next(): T {
    return this.#queue.shift() ?? this.fallback;
  }
}
