import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Signal } from '../../../src/ingest/signals.js';
import { RequestLedger } from '../../../src/stats/request-ledger.js';

const P = { provider: 'fake', model: 'm' };
const llm = (at: number, ttftMs?: number, cancelled = false): Signal => ({
  kind: 'llm_request',
  at,
  startedAt: at - 100,
  ttftMs,
  durationMs: 100,
  cancelled,
  completionTokens: 0,
  tokensPerSec: 0,
  ...P,
});

describe('RequestLedger', () => {
  it('counts a failed LLM request once, though the framework reports an error and metrics', () => {
    const outcomes: string[] = [];
    const ledger = new RequestLedger(60_000, (c, o) => outcomes.push(`${c}:${o}`));
    ledger.handle(llm(100, 50));
    ledger.handle({ kind: 'error', at: 200, component: 'llm', recoverable: false, ...P });
    ledger.handle(llm(201, undefined));
    ledger.handle(llm(300, 40));
    assert.deepEqual(ledger.snapshot('llm'), {
      requests: 3,
      errors: 1,
      cancelled: 0,
      retries: 0,
      errorRate: (1 / 3) * 100,
    });
    assert.deepEqual(outcomes, ['llm:ok', 'llm:error', 'llm:ok']);
  });

  it('counts retried attempts as retries and cancelled requests apart from the rate', () => {
    const ledger = new RequestLedger(60_000);
    ledger.handle({ kind: 'error', at: 1, component: 'llm', recoverable: true, ...P });
    ledger.handle(llm(2, 30));
    ledger.handle(llm(3, 30, true));
    assert.deepEqual(ledger.snapshot('llm'), {
      requests: 1,
      errors: 0,
      cancelled: 1,
      retries: 1,
      errorRate: 0,
    });
  });

  it('counts a TTS failure that produced no audio as one failed request', () => {
    const ledger = new RequestLedger(60_000);
    ledger.handle({
      kind: 'tts_request',
      at: 1,
      startedAt: 0,
      ttfbMs: 20,
      durationMs: 50,
      cancelled: false,
      ...P,
    });
    ledger.handle({ kind: 'error', at: 2, component: 'tts', recoverable: false, ...P });
    assert.equal(ledger.snapshot('tts').errorRate, 50);
  });

  it('counts streaming STT recognitions by final transcript, non-streaming by request', () => {
    const streaming = new RequestLedger(60_000);
    streaming.handle({ kind: 'stt_request', at: 0, durationMs: 0, streamed: true, ...P });
    streaming.handle({ kind: 'stt_final_transcript', at: 1 });
    streaming.handle({ kind: 'stt_final_transcript', at: 2 });
    assert.equal(streaming.snapshot('stt').requests, 2);
    const batch = new RequestLedger(60_000);
    batch.handle({ kind: 'stt_request', at: 0, durationMs: 300, streamed: false, ...P });
    batch.handle({ kind: 'stt_final_transcript', at: 1 });
    assert.equal(batch.snapshot('stt').requests, 1);
  });

  it('reports only the requests inside the rolling window', () => {
    const ledger = new RequestLedger(10_000);
    ledger.toolOutcome('error', 0);
    ledger.toolOutcome('ok', 9_000);
    assert.deepEqual(ledger.windowCounts('function', 9_500), { requests: 2, errors: 1 });
    assert.deepEqual(ledger.windowCounts('function', 12_000), { requests: 1, errors: 0 });
    assert.equal(ledger.snapshot('function').requests, 2, 'totals are not windowed');
  });
});
