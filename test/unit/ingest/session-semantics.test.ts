/**
 * Session events as the framework emits them, through the listener into the core: a realtime
 * model's spoken turns and transcripts, and a discarded preemptive generation.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { resolveOptions } from '../../../src/config.js';
import { SessionListener } from '../../../src/ingest/session-listener.js';
import { MetricsCore } from '../../../src/metrics-core.js';

class FakeSession extends EventEmitter {
  constructor(readonly llm?: unknown) {
    super();
  }
}

/** A speech handle as the listener sees it: done when `finish` is called. */
class FakeHandle {
  interrupted = false;
  scheduled = false;
  private done?: (h: FakeHandle) => void;
  constructor(readonly id: string) {}
  addDoneCallback(cb: (h: FakeHandle) => void) {
    this.done = cb;
  }
  finish(state: { interrupted: boolean; scheduled: boolean }) {
    Object.assign(this, state);
    this.done?.(this);
  }
}

function attach(session: FakeSession) {
  const core = new MetricsCore(
    resolveOptions({
      prices: {
        currency: 'USD',
        models: [
          { component: 'realtime', model: 'gpt-realtime', outputAudioPerMillionTokens: 64 },
          { component: 'realtime', model: '*', outputAudioPerMillionTokens: 1000 },
        ],
      },
    }),
  );
  const listener = new SessionListener(session, {
    signal: (s) => core.ingest(s),
    odd: () => {},
    internalError: (where, error) => assert.fail(`${where}: ${String(error)}`),
  });
  return { core, listener };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('session semantics', () => {
  it("files a realtime model's usage under the session's model, and counts no STT request for its transcripts", async () => {
    const session = new FakeSession({ model: 'gpt-realtime', provider: 'api.openai.com' });
    const { core, listener } = attach(session);
    const handle = new FakeHandle('speech_r1');
    session.emit('user_state_changed', {
      type: 'user_state_changed',
      newState: 'speaking',
      createdAt: 1000,
    });
    session.emit('user_state_changed', {
      type: 'user_state_changed',
      newState: 'listening',
      createdAt: 2000,
    });
    session.emit('speech_created', {
      type: 'speech_created',
      userInitiated: false,
      source: 'generate_reply',
      speechHandle: handle,
      createdAt: 2050,
    });
    session.emit('agent_state_changed', {
      type: 'agent_state_changed',
      newState: 'speaking',
      createdAt: 2400,
    });
    session.emit('metrics_collected', {
      type: 'metrics_collected',
      createdAt: 2600,
      metrics: {
        type: 'realtime_model_metrics',
        label: 'openai_realtime',
        requestId: 'resp_1',
        timestamp: 2060,
        ttftMs: 300,
        durationMs: 500,
        cancelled: false,
        inputTokens: 10,
        outputTokens: 100,
        tokensPerSecond: 200,
        inputTokenDetails: { audioTokens: 10, textTokens: 0, cachedTokens: 0 },
        outputTokenDetails: { textTokens: 0, audioTokens: 100 },
      },
    });
    session.emit('user_input_transcribed', {
      type: 'user_input_transcribed',
      transcript: 'hello',
      isFinal: true,
      itemId: 'item_1',
      createdAt: 2700,
    });
    session.emit('conversation_item_added', {
      type: 'conversation_item_added',
      createdAt: 2700,
      item: { type: 'message', role: 'user', id: 'item_1', createdAt: 2700, metrics: {} },
    });
    handle.finish({ interrupted: false, scheduled: true });
    await flush();
    listener.detach();
    const summary = core.summary();
    assert.deepEqual([summary.components.stt.requests, summary.components.llm.requests], [0, 1]);
    assert.deepEqual(
      summary.usage.entries.map((e) => [e.provider, e.model, e.cost]),
      [['api.openai.com', 'gpt-realtime', (100 * 64) / 1e6]],
    );
    assert.deepEqual(
      core.turns().map((t) => [t.input, t.e2eLatencyMs]),
      [['voice', 400]],
    );
  });

  it('counts a discarded preemptive generation as neither a turn nor an interruption; its request as cancelled', async () => {
    const session = new FakeSession();
    const { core, listener } = attach(session);
    const created = (handle: FakeHandle, at: number) =>
      session.emit('speech_created', {
        type: 'speech_created',
        userInitiated: true,
        source: 'generate_reply',
        speechHandle: handle,
        createdAt: at,
      });
    const preemptive = new FakeHandle('speech_p');
    const answer = new FakeHandle('speech_a');
    created(preemptive, 1000);
    created(answer, 2000);
    session.emit('metrics_collected', {
      type: 'metrics_collected',
      createdAt: 2001,
      metrics: {
        type: 'llm_metrics',
        speechId: 'speech_p',
        timestamp: 2001,
        durationMs: 1000,
        ttftMs: -1,
        cancelled: true,
        completionTokens: 0,
        tokensPerSecond: 0,
      },
    });
    preemptive.finish({ interrupted: true, scheduled: false });
    answer.finish({ interrupted: false, scheduled: true });
    await flush();
    listener.detach();
    const summary = core.summary();
    assert.deepEqual(
      [summary.turns, summary.interruptedTurns, summary.cancelledTurns],
      [1, 0, 1], // the answer here never spoke: cancelled, and only it is a turn
    );
    assert.equal(summary.turnTaking.interruptions, 0);
    const llm = summary.components.llm;
    assert.deepEqual([llm.requests, llm.cancelled, llm.errors], [0, 1, 0]);
    assert.deepEqual(
      core.turns().map((t) => t.id),
      ['speech_a'],
    );
  });
});
