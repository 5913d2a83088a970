/**
 * A local OpenAI Realtime server (`/v1/realtime`, a WebSocket) for the real
 * `openai.realtime.RealtimeModel` (point its `baseURL` at `server.baseURL`).
 *
 * It serves the events the plugin handles: `session.created`/`session.updated`; server VAD on
 * the appended 24 kHz audio (by energy: `input_audio_buffer.speech_started`, `speech_stopped`
 * after `silenceMs` of quiet, `committed`, the user item and its transcription); a response per
 * committed turn or `response.create` (`response.created`, then after `firstAudioMs` the output
 * item, content part, audio and transcript deltas, and `response.done` with usage by modality);
 * `response.cancel`; item create/delete/truncate acknowledgements. Each response is one
 * `response` log entry, billed as described in {@link realtimeUsage}. With `?intent=transcription`
 * (the openai STT's realtime mode) it is a transcription session instead: each committed item
 * gets transcript deltas and `...input_audio_transcription.completed` with usage, `latencyMs`
 * after the commit, and one `transcription_item` log entry.
 */
import type http from 'node:http';
import type { WebSocket } from 'ws';
import { promptTokensOf, tokensOf } from './openai-server.js';
import {
  type ProviderRequest,
  RequestLog,
  Script,
  finish,
  markFirstByte,
  pcmRms,
  tonePcm,
} from './request-log.js';
import { WsHost } from './ws-host.js';

export const REALTIME_SAMPLE_RATE = 24000;

export interface RealtimeResponseScript {
  /** The assistant's spoken text (its transcript); audio is `audioMsPerWord` per word. */
  text?: string;
  /** Delay from `response.created` to the first audio. Default 0. */
  firstAudioMs?: number;
  /** Wall time between 100 ms audio chunks. Default 50 ms (twice real time). */
  chunkIntervalMs?: number;
  audioMsPerWord?: number;
  /** End the response with `status: failed` and this error type instead of audio. */
  failWith?: string;
  /** Transcript of the user turn that triggers it (server VAD). Default 'hello'. */
  userTranscript?: string;
  /** Delay from `response.created` to that transcript (it may come after the answer's first
   * audio, as OpenAI's often does). Default 0. */
  transcriptDelayMs?: number;
  /** Server VAD: delay from `speech_stopped` (and the commit) to `response.created`. Default 0. */
  responseDelayMs?: number;
  cachedInputTokens?: number;
}

/** Deterministic billing: 10 input audio tokens per second heard, 20 output audio tokens per
 * second spoken, text tokens as the chat server counts them. */
export function realtimeUsage(inputAudioSeconds: number, outputAudioSeconds: number, text: string) {
  const inputAudioTokens = Math.round(inputAudioSeconds * 10);
  const outputAudioTokens = Math.round(outputAudioSeconds * 20);
  const outputTextTokens = tokensOf(text).length;
  return { inputAudioTokens, outputAudioTokens, outputTextTokens };
}

export class OpenAIRealtimeServer {
  readonly log = new RequestLog('rt');
  readonly responses = new Script<RealtimeResponseScript>({ text: 'Okay.' });
  /** Transcription sessions (`?intent=transcription`): one per committed user item. */
  readonly transcriptions = new Script<{ transcript: string; latencyMs?: number }>({
    transcript: 'hello',
  });
  readonly silenceMs: number;
  readonly speechRms: number;
  #host?: WsHost;

  private constructor(options: { silenceMs?: number; speechRms?: number }) {
    this.silenceMs = options.silenceMs ?? 500;
    this.speechRms = options.speechRms ?? 500;
  }

  static async start(options: { silenceMs?: number; speechRms?: number } = {}) {
    const server = new OpenAIRealtimeServer(options);
    server.#host = await WsHost.start({
      connection: (ws, req) => new RealtimeConnection(server, ws, req),
    });
    return server;
  }

  /** The plugin's `baseURL`. */
  get baseURL(): string {
    return `http://127.0.0.1:${this.#host!.port}/v1`;
  }

  async close(): Promise<void> {
    await this.#host?.close();
  }
}

type Obj = Record<string, unknown>;

interface ActiveResponse {
  id: string;
  entry: ProviderRequest;
  timers: Set<NodeJS.Timeout>;
  done: (status: 'completed' | 'cancelled' | 'failed', error?: string) => void;
}

class RealtimeConnection {
  readonly #entry: ProviderRequest;
  #ids = 0;
  #instructions = '';
  #autoRespond = true;
  /** Input audio state (server VAD). */
  #inSpeech = false;
  #quietMs = 0;
  #audioMs = 0;
  #speechStartMs = 0;
  #uncommittedMs = 0;
  #lastItemId: string | null = null;
  #response?: ActiveResponse;
  #pendingTranscript?: string;
  /** The item the current user speech will be committed as (one id from start to transcript). */
  #speechItemId?: string;
  /** `?intent=transcription`: a transcription session (the openai STT with `useRealtime`). */
  readonly #transcription: boolean;

  constructor(
    private readonly server: OpenAIRealtimeServer,
    private readonly ws: WebSocket,
    req: http.IncomingMessage,
  ) {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const model = query.get('model') ?? '';
    this.#transcription = query.get('intent') === 'transcription';
    if (this.#transcription) this.#autoRespond = false;
    this.#entry = server.log.begin('realtime_connection', model, 0);
    this.#entry.status = 101;
    this.#send({ type: 'session.created', session: { id: this.#id('sess'), model } });
    ws.on('message', (data) => this.#onMessage(String(data)));
    ws.on('close', () => {
      for (const t of this.#timers) clearTimeout(t);
      this.#response?.done('cancelled');
      finish(this.#entry, 'client_closed');
    });
  }

  #id(prefix: string): string {
    return `${prefix}_${this.#entry.id}_${++this.#ids}`;
  }

  #send(event: Obj): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify({ event_id: this.#id('event'), ...event }));
  }

  #onMessage(text: string): void {
    let event: Obj;
    try {
      event = JSON.parse(text) as Obj;
    } catch {
      return;
    }
    switch (event.type) {
      case 'session.update': {
        const session = (event.session ?? {}) as Obj;
        if (typeof session.instructions === 'string') this.#instructions = session.instructions;
        const audio = (session.audio ?? {}) as Obj;
        const input = (audio.input ?? {}) as Obj;
        const turn = (input.turn_detection ?? session.turn_detection) as Obj | null | undefined;
        this.#autoRespond =
          !this.#transcription && turn !== null && turn?.create_response !== false;
        return this.#send({ type: 'session.updated', session });
      }
      case 'input_audio_buffer.append':
        return this.#onAudio(Buffer.from(String(event.audio ?? ''), 'base64'));
      case 'input_audio_buffer.commit':
        return this.#commit();
      case 'input_audio_buffer.clear':
        this.#uncommittedMs = 0;
        return this.#send({ type: 'input_audio_buffer.cleared' });
      case 'conversation.item.create': {
        const item = { ...((event.item ?? {}) as Obj) };
        item.id ??= this.#id('item');
        return this.#addItem(item, (event.previous_item_id as string | undefined) ?? undefined);
      }
      case 'conversation.item.delete':
        return this.#send({ type: 'conversation.item.deleted', item_id: event.item_id });
      case 'conversation.item.truncate':
        return this.#send({
          type: 'conversation.item.truncated',
          item_id: event.item_id,
          content_index: event.content_index,
          audio_end_ms: event.audio_end_ms,
        });
      case 'response.create':
        return this.#respond(((event.response ?? {}) as Obj).metadata as Obj | undefined);
      case 'response.cancel':
        return this.#response?.done('cancelled');
      default:
        return;
    }
  }

  #addItem(item: Obj, previousItemId?: string): void {
    this.#send({
      type: 'conversation.item.added',
      previous_item_id: previousItemId ?? this.#lastItemId,
      item,
    });
    this.#lastItemId = item.id as string;
  }

  #onAudio(pcm: Buffer): void {
    const ms = (pcm.length / 2 / REALTIME_SAMPLE_RATE) * 1000;
    this.#audioMs += ms;
    this.#uncommittedMs += ms;
    const loud = pcmRms(pcm) > this.server.speechRms;
    if (loud && !this.#inSpeech) {
      this.#inSpeech = true;
      this.#quietMs = 0;
      this.#speechStartMs = this.#audioMs - ms;
      this.#pendingTranscript = undefined;
      this.#speechItemId = this.#id('item');
      this.#send({
        type: 'input_audio_buffer.speech_started',
        audio_start_ms: Math.round(this.#speechStartMs),
        item_id: this.#speechItemId,
      });
      return;
    }
    if (!this.#inSpeech) return;
    if (loud) this.#lastLoudAt = Date.now();
    this.#quietMs = loud ? 0 : this.#quietMs + ms;
    if (this.#quietMs < this.server.silenceMs) return;
    this.#inSpeech = false;
    this.#speechStoppedAt = Date.now();
    this.#send({
      type: 'input_audio_buffer.speech_stopped',
      // where the speech ended, before the silence that ended the turn
      audio_end_ms: Math.round(this.#audioMs - this.#quietMs),
      item_id: this.#speechItemId,
    });
    this.#commit();
    if (!this.#autoRespond) return;
    const script = this.server.responses.next();
    if (!script.responseDelayMs) return this.#respond(undefined, script);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#respond(undefined, script);
    }, script.responseDelayMs);
    this.#timers.add(timer);
  }

  /** Commits the heard audio as a user item, with its scripted transcription. */
  #commit(): void {
    const itemId = this.#speechItemId ?? this.#id('item');
    this.#speechItemId = undefined;
    const seconds = this.#uncommittedMs / 1000;
    this.#uncommittedMs = 0;
    this.#send({
      type: 'input_audio_buffer.committed',
      item_id: itemId,
      previous_item_id: this.#lastItemId,
    });
    this.#addItem({
      id: itemId,
      type: 'message',
      role: 'user',
      status: 'completed',
      content: [{ type: 'input_audio', transcript: null }],
    });
    this.#pendingTranscript = itemId;
    this.#heardSeconds += seconds;
    if (this.#transcription) this.#transcribe(itemId, seconds);
  }

  /** A transcription session's answer to a committed item: deltas, then the transcript. */
  #transcribe(itemId: string, seconds: number): void {
    const script = this.server.transcriptions.next();
    const entry = this.server.log.begin(
      'transcription_item',
      this.#entry.model,
      script.latencyMs ?? 0,
    );
    entry.detail.speechStoppedAt = this.#speechStoppedAt;
    const words = tokensOf(script.transcript);
    const usage = { input_tokens: Math.round(seconds * 10), output_tokens: words.length };
    entry.usage = {
      audioSeconds: seconds,
      promptTokens: usage.input_tokens,
      completionTokens: usage.output_tokens,
    };
    this.#pendingTranscript = undefined;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      for (const word of words) {
        this.#send({
          type: 'conversation.item.input_audio_transcription.delta',
          item_id: itemId,
          content_index: 0,
          delta: word,
        });
        markFirstByte(entry);
      }
      this.#send({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: itemId,
        content_index: 0,
        transcript: script.transcript,
        usage: { type: 'tokens', total_tokens: usage.input_tokens + usage.output_tokens, ...usage },
      });
      markFirstByte(entry);
      entry.detail.completedSentAt = Date.now();
      finish(entry, 'ok');
    }, script.latencyMs ?? 0);
    this.#timers.add(timer);
  }

  readonly #timers = new Set<NodeJS.Timeout>();

  /** Input audio committed since the last response: what the next response bills. */
  #heardSeconds = 0;
  /** When the server VAD last ended a user turn (sent `speech_stopped`). */
  #speechStoppedAt?: number;
  /** When the last loud audio of the current user speech arrived (its acoustic end, as heard). */
  #lastLoudAt?: number;

  #respond(metadata: Obj | undefined, script = this.server.responses.next()): void {
    if (this.#response) return;
    const responseId = this.#id('resp');
    const entry = this.server.log.begin('response', this.#entry.model, script.firstAudioMs ?? 0);
    entry.detail.speechStoppedAt = this.#speechStoppedAt;
    entry.detail.lastLoudAt = this.#speechStoppedAt !== undefined ? this.#lastLoudAt : undefined;
    this.#speechStoppedAt = undefined;
    const timers = new Set<NodeJS.Timeout>();
    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, ms);
      timers.add(t);
    };
    if (this.#pendingTranscript) {
      const itemId = this.#pendingTranscript;
      this.#pendingTranscript = undefined;
      const send = () => {
        this.#send({
          type: 'conversation.item.input_audio_transcription.completed',
          item_id: itemId,
          content_index: 0,
          transcript: script.userTranscript ?? 'hello',
        });
        entry.detail.userTranscriptSentAt = Date.now();
      };
      if (!script.transcriptDelayMs) send();
      else {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          send();
        }, script.transcriptDelayMs);
        this.#timers.add(timer);
      }
    }
    const inputSeconds = this.#heardSeconds;
    this.#heardSeconds = 0;
    const itemId = this.#id('item');
    const words = tokensOf(script.text ?? '');
    const perWord = script.audioMsPerWord ?? 300;
    const totalMs = words.length * perWord;
    let sentMs = 0;
    let transcript = '';
    const item = (status: string) => ({
      id: itemId,
      object: 'realtime.item',
      type: 'message',
      role: 'assistant',
      status,
      content: status === 'completed' ? [{ type: 'output_audio', transcript }] : [],
    });
    const done = (status: 'completed' | 'cancelled' | 'failed', error?: string) => {
      if (this.#response?.id !== responseId) return;
      this.#response = undefined;
      for (const t of timers) clearTimeout(t);
      const usage = realtimeUsage(inputSeconds, sentMs / 1000, transcript);
      const inputTextTokens = promptTokensOf(this.#instructions);
      const cached = Math.min(script.cachedInputTokens ?? 0, inputTextTokens);
      const input = inputTextTokens + usage.inputAudioTokens;
      const output = usage.outputTextTokens + usage.outputAudioTokens;
      entry.usage = {
        inputTextTokens,
        inputAudioTokens: usage.inputAudioTokens,
        inputCachedTokens: cached,
        outputTextTokens: usage.outputTextTokens,
        outputAudioTokens: usage.outputAudioTokens,
        audioSeconds: sentMs / 1000,
      };
      this.#send({
        type: 'response.done',
        response: {
          id: responseId,
          object: 'realtime.response',
          status,
          ...(error
            ? { status_details: { type: 'failed', error: { type: error, code: error } } }
            : status === 'cancelled'
              ? { status_details: { type: 'cancelled', reason: 'client_cancelled' } }
              : {}),
          output: sentMs > 0 ? [item(status === 'completed' ? 'completed' : 'incomplete')] : [],
          metadata: metadata ?? null,
          usage: {
            total_tokens: input + output,
            input_tokens: input,
            output_tokens: output,
            input_token_details: {
              text_tokens: inputTextTokens,
              audio_tokens: usage.inputAudioTokens,
              cached_tokens: cached,
              cached_tokens_details: { text_tokens: cached, audio_tokens: 0 },
            },
            output_token_details: {
              text_tokens: usage.outputTextTokens,
              audio_tokens: usage.outputAudioTokens,
            },
          },
        },
      });
      entry.detail.status = status;
      finish(
        entry,
        status === 'completed' ? 'ok' : status === 'failed' ? 'http_error' : 'client_closed',
      );
    };
    this.#response = { id: responseId, entry, timers, done };
    this.#send({
      type: 'response.created',
      response: {
        id: responseId,
        object: 'realtime.response',
        status: 'in_progress',
        output: [],
        metadata: metadata ?? null,
      },
    });
    const base = { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };
    later(script.firstAudioMs ?? 0, () => {
      if (script.failWith) return done('failed', script.failWith);
      this.#send({
        type: 'response.output_item.added',
        response_id: responseId,
        output_index: 0,
        item: item('in_progress'),
      });
      this.#addItem(item('in_progress'));
      this.#send({
        type: 'response.content_part.added',
        ...base,
        part: { type: 'audio', transcript: '' },
      });
      const chunk = () => {
        const ms = Math.min(100, totalMs - sentMs);
        if (ms > 0) {
          this.#send({
            type: 'response.output_audio.delta',
            ...base,
            delta: tonePcm(REALTIME_SAMPLE_RATE, ms).toString('base64'),
          });
          markFirstByte(entry);
          const wordsDue = Math.ceil(((sentMs + ms) / totalMs) * words.length);
          const heard = tokensOf(transcript).length;
          for (const word of words.slice(heard, wordsDue)) {
            transcript += word;
            this.#send({ type: 'response.output_audio_transcript.delta', ...base, delta: word });
          }
          sentMs += ms;
        }
        if (sentMs < totalMs) return later(script.chunkIntervalMs ?? 50, chunk);
        this.#send({ type: 'response.output_audio.done', ...base });
        this.#send({ type: 'response.output_audio_transcript.done', ...base, transcript });
        this.#send({
          type: 'response.content_part.done',
          ...base,
          part: { type: 'audio', transcript },
        });
        this.#send({
          type: 'response.output_item.done',
          response_id: responseId,
          output_index: 0,
          item: item('completed'),
        });
        done('completed');
      };
      chunk();
    });
  }
}
