/**
 * A local ElevenLabs multi-context TTS server
 * (`/v1/text-to-speech/{voice}/multi-stream-input`, a WebSocket) for the real
 * `@livekit/agents-plugin-elevenlabs` TTS (point its `baseURL` at `server.baseURL`).
 *
 * Per context (`context_id`): the first text opens it (a `text: ' '` init packet does not); the
 * first audio is sent `firstByteMs` after the first real text, covering the text received so
 * far, and later text is voiced as it arrives; a `flush` or `close_context` finishes the
 * context with `isFinal` once its text is voiced. Audio is a 440 Hz tone in the requested
 * `output_format` (pcm_<rate>), `audioMsPerChar` per character, with `normalizedAlignment`.
 * Each context is one `tts_context` log entry, each connection one `tts_connection` entry.
 */
import type http from 'node:http';
import type { WebSocket } from 'ws';
import {
  type ProviderRequest,
  RequestLog,
  Script,
  finish,
  markFirstByte,
  tonePcm,
} from './request-log.js';
import { WsHost } from './ws-host.js';

export interface TtsContextScript {
  /** Delay from the context's first text to its first audio. Default 0. */
  firstByteMs?: number;
  /** Audio per character. Default 40 ms. */
  audioMsPerChar?: number;
  /** Drop the connection when the first audio is due. */
  drop?: boolean;
  /** Answer with an `error` message for the context instead of audio. */
  error?: string;
}

export interface TtsConnectionScript {
  refuseStatus?: number;
}

export class ElevenLabsServer {
  readonly log = new RequestLog('el');
  readonly contexts = new Script<TtsContextScript>({});
  readonly connections = new Script<TtsConnectionScript>({});
  #host?: WsHost;

  static async start(): Promise<ElevenLabsServer> {
    const server = new ElevenLabsServer();
    server.#host = await WsHost.start({
      refuse: (req) => {
        const status = server.connections.next().refuseStatus;
        if (status !== undefined) {
          finish(server.log.begin('tts_connection', modelOf(req), 0), 'http_error', status);
        }
        return status;
      },
      connection: (ws, req) => new TtsConnection(server, ws, req),
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

function modelOf(req: http.IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://x').searchParams.get('model_id') ?? '';
}

interface Context {
  id: string;
  entry: ProviderRequest;
  script: TtsContextScript;
  /** Text received and not voiced yet. */
  pending: string;
  /** True once the first-byte delay has passed: text is voiced as it arrives. */
  live: boolean;
  /** Audio already sent for this context, in ms (alignment times continue from it). */
  audioMs: number;
  finishing: boolean;
  timer?: NodeJS.Timeout;
}

class TtsConnection {
  readonly #entry: ProviderRequest;
  readonly #sampleRate: number;
  readonly #contexts = new Map<string, Context>();

  constructor(
    private readonly server: ElevenLabsServer,
    private readonly ws: WebSocket,
    req: http.IncomingMessage,
  ) {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const format = query.get('output_format') ?? 'pcm_22050';
    this.#sampleRate = Number(/^pcm_(\d+)$/.exec(format)?.[1] ?? 22050);
    this.#entry = server.log.begin('tts_connection', modelOf(req), 0);
    this.#entry.status = 101;
    this.#entry.detail.voice = /text-to-speech\/([^/]+)\//.exec(req.url ?? '')?.[1];
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.#onMessage(String(data));
    });
    ws.on('close', () => {
      for (const ctx of this.#contexts.values()) {
        clearTimeout(ctx.timer);
        finish(ctx.entry, 'client_closed');
      }
      finish(this.#entry, 'client_closed');
    });
  }

  #onMessage(text: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (msg.close_socket === true) return void this.ws.close(1000);
    const id = typeof msg.context_id === 'string' ? msg.context_id : 'default';
    const chunk = typeof msg.text === 'string' ? msg.text : '';
    let ctx = this.#contexts.get(id);
    if (!ctx && chunk.trim().length > 0) ctx = this.#open(id);
    if (!ctx) return;
    if (chunk.trim().length > 0) {
      ctx.pending += chunk;
      ctx.entry.usage.characters = (ctx.entry.usage.characters ?? 0) + chunk.length;
    }
    if (msg.flush === true || msg.close_context === true) ctx.finishing = true;
    if (ctx.live) this.#voice(ctx);
  }

  #open(id: string): Context {
    const script = this.server.contexts.next();
    const entry = this.server.log.begin('tts_context', this.#entry.model, script.firstByteMs ?? 0);
    entry.detail.contextId = id;
    const ctx: Context = {
      id,
      entry,
      script,
      pending: '',
      live: false,
      audioMs: 0,
      finishing: false,
    };
    this.#contexts.set(id, ctx);
    ctx.timer = setTimeout(() => {
      if (script.drop) {
        finish(entry, 'dropped');
        finish(this.#entry, 'dropped');
        return void this.ws.terminate();
      }
      if (script.error) {
        this.#send({ error: script.error, message: script.error, contextId: id });
        finish(entry, 'http_error');
        return void this.#contexts.delete(id);
      }
      ctx.live = true;
      this.#voice(ctx);
    }, script.firstByteMs ?? 0);
    return ctx;
  }

  /** Sends audio for the context's pending text, and `isFinal` when it is finishing. */
  #voice(ctx: Context): void {
    if (ctx.pending.length > 0) {
      const text = ctx.pending;
      ctx.pending = '';
      const perChar = ctx.script.audioMsPerChar ?? 40;
      const ms = text.length * perChar;
      const pcm = tonePcm(
        this.#sampleRate,
        ms,
        Math.round((ctx.audioMs * this.#sampleRate) / 1000),
      );
      const chars = [...text];
      const alignment = {
        chars,
        charStartTimesMs: chars.map((_, i) => Math.round(ctx.audioMs + i * perChar)),
        charDurationsMs: chars.map(() => perChar),
      };
      this.#send({
        audio: pcm.toString('base64'),
        normalizedAlignment: alignment,
        alignment,
        isFinal: null,
        contextId: ctx.id,
      });
      markFirstByte(ctx.entry);
      ctx.audioMs += ms;
      ctx.entry.usage.audioSeconds = ctx.audioMs / 1000;
    }
    if (ctx.finishing) {
      this.#send({ isFinal: true, contextId: ctx.id });
      finish(ctx.entry, 'ok');
      this.#contexts.delete(ctx.id);
    }
  }

  #send(message: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }
}
