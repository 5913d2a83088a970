/**
 * A local Deepgram live-transcription server (`GET /v1/listen` upgraded to a WebSocket) for the
 * real `@livekit/agents-plugin-deepgram` STT (point its `baseUrl` at `server.baseUrl`).
 *
 * It listens to the linear16 audio the plugin streams and finds utterances by energy: speech
 * starts at the first loud 100 ms chunk (`SpeechStarted`), interim `Results` follow while it
 * lasts, and after `endpointingMs` of quiet audio the utterance's scripted transcript is sent as
 * a final `Results` (`is_final` and `speech_final`) `finalDelayMs` later, then `UtteranceEnd`
 * when the client asked for `utterance_end_ms`. `Finalize` ends a pending utterance at once,
 * `CloseStream` gets the closing `Metadata`. Connections and utterances are logged.
 */
import type http from 'node:http';
import type { WebSocket } from 'ws';
import {
  type ProviderRequest,
  RequestLog,
  Script,
  finish,
  markFirstByte,
  pcmRms,
} from './request-log.js';
import { WsHost } from './ws-host.js';

export interface ListenConnectionScript {
  /** Refuse the upgrade with this HTTP status (401, 429, …). */
  refuseStatus?: number;
  /** Drop the connection as this utterance (0-based, on this connection) starts. */
  dropAtUtterance?: number;
}

export interface UtteranceScript {
  transcript: string;
  /** Delay from the endpoint (end of speech + `endpointingMs`) to the final result. */
  finalDelayMs?: number;
  /** Never send the final result. */
  stall?: boolean;
  /** An early final mid-sentence (`is_final`, not `speech_final`, as Deepgram sends when it
   * finalizes a segment while the speaker goes on): the first `words` words, once `afterMs` of
   * the utterance's audio was received. The utterance's last final then holds the rest. */
  earlyFinal?: { words: number; afterMs: number };
}

export interface DeepgramServerOptions {
  /** Quiet audio that ends an utterance. Default 300 ms. */
  endpointingMs?: number;
  /** RMS (16-bit) above which a chunk is speech. Default 500. */
  speechRms?: number;
  /** Interval between interim results during speech. Default 250 ms. */
  interimEveryMs?: number;
}

export class DeepgramServer {
  readonly log = new RequestLog('dg');
  readonly connections = new Script<ListenConnectionScript>({});
  readonly utterances = new Script<UtteranceScript>({ transcript: 'hello' });
  readonly options: Required<DeepgramServerOptions>;
  #host?: WsHost;
  readonly #refusals = new Map<http.IncomingMessage, ListenConnectionScript>();

  private constructor(options: DeepgramServerOptions) {
    this.options = { endpointingMs: 300, speechRms: 500, interimEveryMs: 250, ...options };
  }

  static async start(options: DeepgramServerOptions = {}): Promise<DeepgramServer> {
    const server = new DeepgramServer(options);
    server.#host = await WsHost.start({
      refuse: (req) => {
        const script = server.connections.next();
        server.#refusals.set(req, script);
        if (script.refuseStatus === undefined) return undefined;
        const entry = server.log.begin('listen', modelOf(req), 0);
        finish(entry, 'http_error', script.refuseStatus);
        server.#refusals.delete(req);
        return script.refuseStatus;
      },
      connection: (ws, req) => {
        const script = server.#refusals.get(req) ?? {};
        server.#refusals.delete(req);
        new ListenConnection(server, ws, req, script);
      },
    });
    return server;
  }

  /** The plugin's `baseUrl`. */
  get baseUrl(): string {
    return `ws://127.0.0.1:${this.#host!.port}`;
  }

  async close(): Promise<void> {
    await this.#host?.close();
  }
}

function modelOf(req: http.IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://x').searchParams.get('model') ?? '';
}

interface Utterance {
  entry: ProviderRequest;
  script: UtteranceScript;
  startAudio: number;
  lastSpeechAudio: number;
  lastSpeechAt: number;
  quietMs: number;
  interim?: NodeJS.Timeout;
  /** Words already sent in an early final. */
  finalWords: number;
}

/** One `/v1/listen` WebSocket: its audio clock, its utterances, and its log entry. */
class ListenConnection {
  readonly #entry: ProviderRequest;
  readonly #sampleRate: number;
  readonly #channels: number;
  readonly #utteranceEnd: boolean;
  readonly #requestId: string;
  /** Seconds of audio received. */
  #audio = 0;
  #utterance?: Utterance;
  #count = 0;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly server: DeepgramServer,
    private readonly ws: WebSocket,
    req: http.IncomingMessage,
    private readonly script: ListenConnectionScript,
  ) {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    this.#sampleRate = Number(query.get('sample_rate') ?? 16000) || 16000;
    this.#channels = Number(query.get('channels') ?? 1) || 1;
    this.#utteranceEnd = query.get('utterance_end_ms') !== null;
    this.#entry = server.log.begin('listen', modelOf(req), 0);
    this.#entry.status = 101;
    this.#entry.detail.query = Object.fromEntries(query);
    this.#requestId = this.#entry.id;
    this.#entry.usage.audioSeconds = 0;
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.#onAudio(data as Buffer);
      else this.#onControl(String(data));
    });
    ws.on('close', () => this.#closed());
  }

  #onAudio(pcm: Buffer): void {
    const seconds = pcm.length / 2 / this.#channels / this.#sampleRate;
    this.#audio += seconds;
    this.#entry.usage.audioSeconds = this.#audio;
    const loud = pcmRms(pcm) > this.server.options.speechRms;
    const u = this.#utterance;
    if (loud && !u) return this.#startUtterance(seconds);
    if (!u) return;
    const early = u.script.earlyFinal;
    if (early && u.finalWords === 0 && (this.#audio - u.startAudio) * 1000 >= early.afterMs) {
      this.#sendEarlyFinal(u, early.words);
    }
    if (loud) {
      u.lastSpeechAudio = this.#audio;
      u.lastSpeechAt = Date.now();
      u.quietMs = 0;
    } else {
      u.quietMs += seconds * 1000;
      if (u.quietMs >= this.server.options.endpointingMs) this.#endUtterance(false);
    }
  }

  #startUtterance(chunkSeconds: number): void {
    const script = this.server.utterances.next();
    const index = this.#count++;
    const entry = this.server.log.begin('listen_utterance', this.#entry.model, 0);
    entry.injectedFirstByteMs = script.finalDelayMs ?? 0;
    entry.detail.transcript = script.transcript;
    const start = this.#audio - chunkSeconds;
    const u: Utterance = {
      entry,
      script,
      startAudio: start,
      lastSpeechAudio: this.#audio,
      lastSpeechAt: Date.now(),
      quietMs: 0,
      finalWords: 0,
    };
    this.#utterance = u;
    this.#send({ type: 'SpeechStarted', channel: [0, 1], timestamp: start });
    if (index === this.script.dropAtUtterance) {
      finish(entry, 'dropped');
      finish(this.#entry, 'dropped');
      this.ws.terminate();
      return;
    }
    u.interim = setInterval(() => {
      const words = u.script.transcript.split(/\s+/).filter(Boolean).slice(u.finalWords);
      const heard = Math.max(1, Math.ceil(words.length / 2));
      this.#send(this.#results(u, words.slice(0, heard), false));
      markFirstByte(u.entry);
    }, this.server.options.interimEveryMs);
  }

  #endUtterance(fromFinalize: boolean): void {
    const u = this.#utterance;
    if (!u) return;
    this.#utterance = undefined;
    clearInterval(u.interim);
    u.entry.detail.speechEndedAt = u.lastSpeechAt;
    u.entry.detail.endpointAt = Date.now();
    u.entry.usage.audioSeconds = this.#audio - u.startAudio;
    if (u.script.stall) return void finish(u.entry, 'stalled');
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const words = u.script.transcript.split(/\s+/).filter(Boolean).slice(u.finalWords);
      this.#send({ ...this.#results(u, words, true), from_finalize: fromFinalize });
      markFirstByte(u.entry);
      u.entry.detail.finalSentAt = Date.now();
      finish(u.entry, 'ok');
      if (this.#utteranceEnd) {
        this.#send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: u.lastSpeechAudio });
      }
    }, u.script.finalDelayMs ?? 0);
    this.#timers.add(timer);
  }

  /** The first `count` words as a final segment while the utterance goes on. */
  #sendEarlyFinal(u: Utterance, count: number): void {
    const words = u.script.transcript.split(/\s+/).filter(Boolean).slice(0, count);
    u.finalWords = words.length;
    this.#send(this.#results(u, words, true, false));
    u.entry.detail.earlyFinalSentAt = Date.now();
    u.entry.detail.earlyFinal = words.join(' ');
  }

  /** A `Results` message; words are spread evenly over the utterance's speech. */
  #results(u: Utterance, words: string[], final: boolean, endpoint = final) {
    const span = Math.max(u.lastSpeechAudio - u.startAudio, 0.01);
    const step = span / Math.max(words.length, 1);
    return {
      type: 'Results',
      channel_index: [0, 1],
      duration: this.#audio - u.startAudio,
      start: u.startAudio,
      is_final: final,
      speech_final: endpoint,
      channel: {
        alternatives: [
          {
            transcript: words.join(' '),
            confidence: 0.98,
            words: words.map((word, i) => ({
              word: word.toLowerCase(),
              punctuated_word: word,
              start: u.startAudio + i * step,
              end: u.startAudio + (i + 1) * step,
              confidence: 0.98,
            })),
          },
        ],
      },
      metadata: {
        request_id: this.#requestId,
        model_info: { name: this.#entry.model, version: 'local', arch: 'local' },
        model_uuid: 'local',
      },
    };
  }

  #onControl(text: string): void {
    let type: unknown;
    try {
      type = (JSON.parse(text) as { type?: unknown }).type;
    } catch {
      return;
    }
    if (type === 'Finalize') this.#endUtterance(true);
    else if (type === 'CloseStream') {
      this.#endUtterance(true);
      this.#send({
        type: 'Metadata',
        request_id: this.#requestId,
        duration: this.#audio,
        channels: this.#channels,
      });
      finish(this.#entry, 'ok');
      this.ws.close(1000);
    }
  }

  #send(message: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  #closed(): void {
    if (this.#utterance) {
      clearInterval(this.#utterance.interim);
      finish(this.#utterance.entry, 'client_closed');
    }
    for (const t of this.#timers) clearTimeout(t);
    finish(this.#entry, 'client_closed');
  }
}
