import type { Component } from '../types.js';
import type { Signal } from './signals.js';

/** Request ids remembered per component: far more than can be in flight in one session. */
const DEFAULT_MEMORY = 256;

type RequestSignal = Extract<Signal, { kind: 'stt_request' | 'llm_request' | 'tts_request' }>;

const COMPONENT_OF: Record<RequestSignal['kind'], Component> = {
  stt_request: 'stt',
  llm_request: 'llm',
  tts_request: 'tts',
};

/** What identifies a report's content, to tell a forwarded copy from another segment. */
interface Seen {
  streamed: boolean;
  content: string;
  /** When the request ran (epoch ms), to tell a copy from a later request reusing the id. */
  startedAt: number;
  endedAt: number;
}

/** Two reports of one request overlap in time almost entirely (a wrapper's copy may start or end
 * a few ms apart); two requests that reuse an id run one after the other. */
const SAME_REQUEST_OVERLAP = 0.5;

/**
 * Keeps each provider request to one report. The framework re-reports some requests:
 * - a non-streaming TTS (OpenAI, and any TTS whose `capabilities.streaming` is false) is wrapped
 *   in `tts.StreamAdapter`, whose stream reports the segment (`streamed: true`) on the wrapped TTS
 *   on top of the wrapped TTS's own report of each request (`streamed: false`), with the first
 *   request's `requestId` (`@livekit/agents` 1.9 `src/tts/stream_adapter.ts` and the
 *   `SynthesizeStream`/`ChunkedStream` `monitorMetrics` of `src/tts/tts.ts`);
 * - `tts.FallbackAdapter` forwards its members' reports and its own streams report the same
 *   requests again (same `requestId`, same content).
 * When the session's TTS is known not to stream, its `streamed: true` reports are the adapter's
 * and are dropped whatever their order (the wrapped TTS's own reports carry each request's
 * characters and audio, the adapter's the whole segment's). Otherwise a report whose
 * `requestId` was already seen for its component is dropped; for the TTS only when it differs
 * in `streamed` or repeats the same characters and audio, since a streaming TTS may keep one id
 * for every segment of a stream; for the LLM and STT only when the two reports overlap in time,
 * since some (the framework's own FakeLLM among them) give every request the same id. Streaming STT usage reports are not requests and pass. Ids are
 * kept in a bounded first-in-first-out memory.
 */
export class RequestDedupe {
  readonly #seen: Record<Component, Map<string, Seen>> = {
    stt: new Map(),
    llm: new Map(),
    tts: new Map(),
    function: new Map(),
  };

  constructor(private readonly memory = DEFAULT_MEMORY) {}

  /**
   * True when `signal` re-reports a request already counted. `ttsStreams` says whether the TTS
   * the session is using streams (undefined when unknown).
   */
  isRepeat(signal: Signal, ttsStreams: boolean | undefined): boolean {
    if (signal.kind !== 'stt_request' && signal.kind !== 'llm_request') {
      if (signal.kind !== 'tts_request') return false;
      if (signal.streamed && ttsStreams === false) return true;
    } else if (signal.kind === 'stt_request' && signal.streamed) {
      return false;
    }
    const { requestId } = signal;
    if (requestId === undefined) return false;
    const seen = this.#seen[COMPONENT_OF[signal.kind]];
    const endedAt = signal.at;
    const startedAt = 'startedAt' in signal ? signal.startedAt : endedAt - signal.durationMs;
    const now: Seen =
      signal.kind === 'tts_request'
        ? {
            streamed: signal.streamed === true,
            content: `${signal.charactersCount}/${signal.audioDurationMs}`,
            startedAt,
            endedAt,
          }
        : { streamed: false, content: '', startedAt, endedAt };
    const before = seen.get(requestId);
    if (before !== undefined) {
      if (signal.kind === 'tts_request') {
        return before.streamed !== now.streamed || before.content === now.content;
      }
      // An LLM or STT that gives every request the same id (a test double, a custom plugin)
      // makes requests one after another; a wrapper's copy of one request overlaps it.
      const shared =
        Math.min(now.endedAt, before.endedAt) - Math.max(now.startedAt, before.startedAt);
      const shorter = Math.min(now.endedAt - now.startedAt, before.endedAt - before.startedAt);
      if (shared > 0 && shared >= SAME_REQUEST_OVERLAP * shorter) return true;
    }
    seen.set(requestId, now);
    // a Map iterates in insertion order: its first key is the oldest
    if (seen.size > this.memory) seen.delete(seen.keys().next().value!);
    return false;
  }
}
