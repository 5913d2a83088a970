/**
 * A local OpenAI-compatible HTTP server for the real `@livekit/agents-plugin-openai` (point its
 * `baseURL` at `server.baseURL`, any API key):
 * - `POST /chat/completions` streamed over SSE: text deltas, tool calls, and the final usage
 *   chunk when `stream_options.include_usage` is set (the plugin always sets it);
 * - `POST /audio/speech` with `response_format: 'pcm'`: 24 kHz mono s16le, sent in one body
 *   (the plugin reads it whole, so its time to first byte is the whole response);
 * - `POST /audio/transcriptions` (multipart WAV upload): `{ text }`.
 * Each request takes the next behaviour from its script (latency, token pacing, an HTTP error,
 * a dropped connection, a stall) and is recorded in `log`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ProviderRequest,
  RequestLog,
  Script,
  finish,
  markFirstByte,
  sleep,
  tonePcm,
} from './request-log.js';

export const OPENAI_TTS_SAMPLE_RATE = 24000;

export interface ChatReply {
  /** Streamed as one token per word (a word with its following space). */
  text?: string;
  toolCalls?: Array<{ name: string; args: Record<string, unknown> }>;
  /** Delay before the first token. Default 0. */
  ttftMs?: number;
  /** Delay between tokens. Default 0. */
  tokenIntervalMs?: number;
  /** Answer with this HTTP status and an OpenAI error body instead. */
  status?: number;
  /** Destroy the connection after this many tokens (0: before the first). */
  dropAfterTokens?: number;
  /** Stop sending after this many tokens and never finish. */
  stallAfterTokens?: number;
  /** Part of the prompt billed as cached. Default 0. */
  promptCachedTokens?: number;
}

export interface SpeechReply {
  /** Delay before the response (headers and audio). Default 0. */
  firstByteMs?: number;
  /** Audio produced per input character. Default 40 ms. */
  audioMsPerChar?: number;
  status?: number;
  /** Destroy the connection instead of answering. */
  drop?: boolean;
  /** Never answer. */
  stall?: boolean;
}

export interface TranscriptionReply {
  text?: string;
  latencyMs?: number;
  status?: number;
  drop?: boolean;
}

/** Deterministic token counts, so tests can compare billed usage exactly. */
export const tokensOf = (text: string): string[] => text.match(/\S+\s*/g) ?? [];
export const promptTokensOf = (body: unknown): number =>
  Math.ceil(JSON.stringify(body ?? null).length / 4);

export class OpenAICompatibleServer {
  readonly log = new RequestLog('oai');
  readonly chat = new Script<ChatReply>({ text: 'Okay.' });
  readonly speech = new Script<SpeechReply>({});
  readonly transcription = new Script<TranscriptionReply>({ text: 'hello' });
  readonly #server: http.Server;
  readonly #closing = new AbortController();

  private constructor() {
    this.#server = http.createServer((req, res) => {
      this.#route(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(error));
        else res.destroy();
      });
    });
  }

  static async start(): Promise<OpenAICompatibleServer> {
    const server = new OpenAICompatibleServer();
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    return server;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The plugin's `baseURL`. */
  get baseURL(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // a request starts when it arrives: reading its body is part of serving it
    const arrivedAt = Date.now();
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/v1/, '');
    if (req.method !== 'POST') return void res.writeHead(405).end();
    if (path === '/chat/completions') return this.#chat(req, res, await readJson(req), arrivedAt);
    if (path === '/audio/speech') return this.#speech(req, res, await readJson(req), arrivedAt);
    if (path === '/audio/transcriptions') return this.#transcription(req, res, arrivedAt);
    res.writeHead(404).end();
  }

  async #chat(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Obj,
    arrivedAt: number,
  ): Promise<void> {
    const reply = this.chat.next();
    const entry = this.log.begin('chat', String(body.model ?? ''), reply.ttftMs ?? 0, arrivedAt);
    const signal = this.#watchClient(req, res, entry);
    const messages = Array.isArray(body.messages) ? (body.messages as Obj[]) : [];
    entry.detail.lastUserText = [...messages].reverse().find((m) => m.role === 'user')?.content;
    entry.detail.toolResults = messages.filter((m) => m.role === 'tool').length;
    if (reply.status) return this.#fail(res, entry, reply.status, reply.ttftMs ?? 0, signal);

    const id = entry.id;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: Obj, finishReason: string | null = null, usage?: Obj) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: entry.model,
        choices: usage ? [] : [{ index: 0, delta, finish_reason: finishReason }],
        ...(usage ? { usage } : {}),
      })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();

    // the deltas as OpenAI streams them: text tokens, then each tool call's name and arguments
    const deltas: Obj[] = tokensOf(reply.text ?? '').map((t) => ({ content: t }));
    let toolTokens = 0;
    (reply.toolCalls ?? []).forEach((call, index) => {
      const args = JSON.stringify(call.args);
      const half = Math.ceil(args.length / 2);
      const fn = (f: Obj) => ({ tool_calls: [{ index, ...f }] });
      deltas.push(
        fn({ id: `call_${id}_${index}`, type: 'function', function: { name: call.name } }),
        fn({ function: { arguments: args.slice(0, half) } }),
        fn({ function: { arguments: args.slice(half) } }),
      );
      toolTokens += 1 + Math.ceil(args.length / 4);
    });
    await sleep(reply.ttftMs ?? 0, signal);
    for (const [i, delta] of deltas.entries()) {
      if (signal.aborted) return;
      if (i === reply.dropAfterTokens) return this.#drop(res, entry);
      if (i === reply.stallAfterTokens) return void finish(entry, 'stalled');
      if (i > 0) await sleep(reply.tokenIntervalMs ?? 0, signal);
      if (signal.aborted) return;
      res.write(chunk(i === 0 ? { role: 'assistant', ...delta } : delta));
      markFirstByte(entry);
    }
    if (reply.dropAfterTokens !== undefined && reply.dropAfterTokens >= deltas.length) {
      return this.#drop(res, entry);
    }
    const completionTokens = tokensOf(reply.text ?? '').length + toolTokens;
    const promptTokens = promptTokensOf({ messages: body.messages, tools: body.tools });
    const cached = Math.min(reply.promptCachedTokens ?? 0, promptTokens);
    entry.usage = { promptTokens, promptCachedTokens: cached, completionTokens };
    res.write(chunk({}, reply.toolCalls?.length ? 'tool_calls' : 'stop'));
    const streamOptions = body.stream_options as Obj | undefined;
    if (streamOptions?.include_usage === true) {
      res.write(
        chunk({}, null, {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
          prompt_tokens_details: { cached_tokens: cached },
        }),
      );
    }
    res.end('data: [DONE]\n\n');
    finish(entry, 'ok', 200);
  }

  async #speech(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Obj,
    arrivedAt: number,
  ): Promise<void> {
    const reply = this.speech.next();
    const model = String(body.model ?? '');
    const entry = this.log.begin('speech', model, reply.firstByteMs ?? 0, arrivedAt);
    const signal = this.#watchClient(req, res, entry);
    const input = typeof body.input === 'string' ? body.input : '';
    entry.detail.input = input;
    entry.detail.responseFormat = body.response_format;
    if (reply.status) return this.#fail(res, entry, reply.status, reply.firstByteMs ?? 0, signal);
    await sleep(reply.firstByteMs ?? 0, signal);
    if (signal.aborted) return;
    if (reply.drop) return this.#drop(res, entry);
    if (reply.stall) return void finish(entry, 'stalled');
    const audioMs = input.length * (reply.audioMsPerChar ?? 40);
    const pcm = tonePcm(OPENAI_TTS_SAMPLE_RATE, audioMs);
    entry.usage = { characters: input.length, audioSeconds: audioMs / 1000 };
    res.writeHead(200, { 'content-type': 'audio/pcm', 'content-length': pcm.length });
    markFirstByte(entry);
    res.end(pcm);
    finish(entry, 'ok', 200);
  }

  async #transcription(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    arrivedAt: number,
  ): Promise<void> {
    const reply = this.transcription.next();
    const form = await readForm(req);
    const model = String(form.get('model') ?? '');
    const entry = this.log.begin('transcription', model, reply.latencyMs ?? 0, arrivedAt);
    const signal = this.#watchClient(req, res, entry);
    const file = form.get('file');
    const wav = file instanceof Blob ? Buffer.from(await file.arrayBuffer()) : Buffer.alloc(0);
    entry.usage = { audioSeconds: wavSeconds(wav) };
    if (reply.status) return this.#fail(res, entry, reply.status, reply.latencyMs ?? 0, signal);
    await sleep(reply.latencyMs ?? 0, signal);
    if (signal.aborted) return;
    if (reply.drop) return this.#drop(res, entry);
    const text = reply.text ?? '';
    entry.detail.transcript = text;
    res.writeHead(200, { 'content-type': 'application/json' });
    markFirstByte(entry);
    res.end(JSON.stringify({ text }));
    finish(entry, 'ok', 200);
  }

  /** An abort signal for the request: the client went away, or the server is closing. */
  #watchClient(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: ProviderRequest,
  ): AbortSignal {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) finish(entry, 'client_closed');
      controller.abort();
    });
    req.on('error', () => controller.abort());
    return AbortSignal.any([controller.signal, this.#closing.signal]);
  }

  async #fail(
    res: http.ServerResponse,
    entry: ProviderRequest,
    status: number,
    delayMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    await sleep(delayMs, signal);
    if (signal.aborted) return;
    const type = status === 429 ? 'rate_limit_exceeded' : 'server_error';
    res.writeHead(status, { 'content-type': 'application/json' });
    markFirstByte(entry);
    res.end(JSON.stringify({ error: { message: `injected ${status}`, type, code: type } }));
    finish(entry, 'http_error', status);
  }

  #drop(res: http.ServerResponse, entry: ProviderRequest): void {
    finish(entry, 'dropped');
    res.destroy();
  }
}

type Obj = Record<string, unknown>;

const MAX_BODY = 32 * 1024 * 1024;

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: http.IncomingMessage): Promise<Obj> {
  const parsed: unknown = JSON.parse((await readBody(req)).toString('utf8') || '{}');
  return typeof parsed === 'object' && parsed !== null ? (parsed as Obj) : {};
}

/** Parses a multipart upload with the platform's own parser (undici's Request.formData). */
async function readForm(req: http.IncomingMessage): Promise<FormData> {
  const body = await readBody(req);
  const request = new Request('http://local/upload', {
    method: 'POST',
    headers: { 'content-type': req.headers['content-type'] ?? '' },
    body,
  });
  return request.formData();
}

/** Seconds of 16-bit PCM in a WAV upload (from its data chunk). */
export function wavSeconds(wav: Buffer): number {
  if (wav.length < 44 || wav.toString('ascii', 0, 4) !== 'RIFF') return 0;
  let offset = 12;
  let rate = 0;
  let channels = 1;
  while (offset + 8 <= wav.length) {
    const id = wav.toString('ascii', offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      channels = wav.readUInt16LE(offset + 10);
      rate = wav.readUInt32LE(offset + 12);
    } else if (id === 'data') {
      const bytes = Math.min(size, wav.length - offset - 8);
      return rate > 0 ? bytes / 2 / channels / rate : 0;
    }
    offset += 8 + size + (size & 1);
  }
  return 0;
}
