import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { RequestDedupe } from '../../../src/ingest/request-dedupe.js';
import { SessionListener } from '../../../src/ingest/session-listener.js';
import type { Signal } from '../../../src/ingest/signals.js';

/** Recorded from the real openai TTS behind the framework's stream adapter (see its `note`). */
const recorded = JSON.parse(
  readFileSync(
    new URL('../../fixtures/providers/openai-tts-adapter-metrics.json', import.meta.url),
    'utf8',
  ),
) as { servedRequests: number; events: Array<{ metrics: Record<string, unknown> }> };

type TtsSignal = Extract<Signal, { kind: 'tts_request' }>;

class FakeSession extends EventEmitter {
  constructor(readonly tts?: unknown) {
    super();
  }
}

function replay(session: FakeSession, events: Array<{ metrics: Record<string, unknown> }>) {
  const signals: Signal[] = [];
  const listener = new SessionListener(session, {
    signal: (s) => signals.push(s),
    odd: () => {},
    internalError: (where, error) => assert.fail(`${where}: ${String(error)}`),
  });
  for (const ev of events) session.emit('metrics_collected', { type: 'metrics_collected', ...ev });
  listener.detach();
  return signals.filter((s) => s.kind === 'tts_request');
}

const tts = (m: Partial<TtsSignal>): TtsSignal => ({
  kind: 'tts_request',
  at: 0,
  startedAt: 0,
  durationMs: 100,
  cancelled: false,
  provider: 'p',
  model: 'm',
  ...m,
});

describe('RequestDedupe', () => {
  it('keeps one report per OpenAI speech request from recorded stream-adapter events', () => {
    assert.ok(recorded.events.length > recorded.servedRequests, 'the framework re-reports');
    const kept = replay(
      new FakeSession({ label: 'openai.TTS', capabilities: { streaming: false } }),
      recorded.events,
    );
    assert.equal(kept.length, recorded.servedRequests);
    assert.ok(
      kept.every((s) => s.kind === 'tts_request' && s.streamed === false),
      "the wrapped TTS's own reports are the ones kept",
    );
  });

  it("still counts each request once when the session's TTS is not known", () => {
    const kept = replay(new FakeSession(), recorded.events);
    assert.equal(kept.length, recorded.servedRequests);
  });

  it('keeps every segment of a streaming TTS that reuses one request id', () => {
    const dedupe = new RequestDedupe();
    const segment = (charactersCount: number) =>
      tts({
        streamed: true,
        requestId: 'ctx-1',
        charactersCount,
        audioDurationMs: 40 * charactersCount,
      });
    assert.deepEqual(
      [dedupe.isRepeat(segment(20), true), dedupe.isRepeat(segment(31), true)],
      [false, false],
    );
  });

  it('drops a forwarded copy of a TTS report (same id, same characters and audio)', () => {
    const dedupe = new RequestDedupe();
    const report = tts({
      streamed: false,
      requestId: 'r1',
      charactersCount: 27,
      audioDurationMs: 1080,
    });
    assert.deepEqual(
      [dedupe.isRepeat(report, undefined), dedupe.isRepeat({ ...report, ttfbMs: 3 }, undefined)],
      [false, true],
    );
  });

  it('drops an LLM or STT report whose request id it has seen, and nothing without an id', () => {
    const dedupe = new RequestDedupe();
    const llm: Signal = {
      kind: 'llm_request',
      at: 10,
      startedAt: 0,
      durationMs: 10,
      cancelled: false,
      completionTokens: 1,
      tokensPerSec: 1,
      provider: 'p',
      model: 'm',
      requestId: 'chatcmpl-1',
    };
    const anonymous: Signal = { ...llm, requestId: undefined };
    assert.deepEqual(
      [
        dedupe.isRepeat(llm, undefined),
        dedupe.isRepeat(llm, undefined),
        dedupe.isRepeat(anonymous, undefined),
        dedupe.isRepeat(anonymous, undefined),
      ],
      [false, true, false, false],
    );
  });

  it("counts one after another the requests of an LLM that reuses one id (the framework's FakeLLM)", () => {
    const dedupe = new RequestDedupe();
    const request = (startedAt: number, durationMs: number): Signal => ({
      kind: 'llm_request',
      at: startedAt + durationMs,
      startedAt,
      ttftMs: 50,
      durationMs,
      cancelled: false,
      completionTokens: 0,
      tokensPerSec: 0,
      provider: 'fake-llm',
      model: 'unknown',
      requestId: 'fake',
    });
    assert.deepEqual(
      [
        dedupe.isRepeat(request(1_000, 250), undefined),
        // a wrapper's copy of the same request: it overlaps the first
        dedupe.isRepeat(request(998, 255), undefined),
        // the next requests, each starting right after the previous ended, with the same id
        dedupe.isRepeat(request(1_265, 400), undefined),
        dedupe.isRepeat(request(1_666, 300), undefined),
      ],
      [false, true, false, false],
    );
  });

  it('forgets the oldest ids beyond its memory', () => {
    const dedupe = new RequestDedupe(2);
    for (const id of ['a', 'b', 'c']) dedupe.isRepeat(tts({ requestId: id }), undefined);
    assert.equal(dedupe.isRepeat(tts({ requestId: 'c', streamed: true }), undefined), true);
    assert.equal(dedupe.isRepeat(tts({ requestId: 'a', streamed: true }), undefined), false);
  });
});

describe('SessionListener with a failed realtime response', () => {
  it("delivers the response's report after the error emitted in the same run", async () => {
    const session = new FakeSession();
    const signals: Signal[] = [];
    const listener = new SessionListener(session, {
      signal: (s) => signals.push(s),
      odd: () => {},
      internalError: (where, error) => assert.fail(`${where}: ${String(error)}`),
    });
    // the shapes and the order of @livekit/agents-plugin-openai 1.9 handleResponseDone
    session.emit('metrics_collected', {
      type: 'metrics_collected',
      createdAt: 1000,
      metrics: {
        type: 'realtime_model_metrics',
        label: 'openai_realtime',
        requestId: 'resp_1',
        timestamp: 900,
        ttftMs: -1,
        durationMs: 100,
        cancelled: false,
        inputTokens: 10,
        outputTokens: 0,
        totalTokens: 10,
        tokensPerSecond: 0,
      },
    });
    session.emit('error', {
      type: 'error',
      createdAt: 1000,
      error: { type: 'realtime_model_error', recoverable: true, label: 'openai_realtime' },
      source: { label: 'openai_realtime' },
    });
    await Promise.resolve();
    listener.detach();
    assert.deepEqual(
      signals.map((s) => s.kind),
      ['error', 'llm_request'],
    );
    const error = signals[0] as Extract<Signal, { kind: 'error' }>;
    assert.equal(error.recoverable, false, 'nothing retries a realtime response');
  });
});
