/**
 * The data-channel publisher on a real text-mode AgentSession. The room is a stand-in that records
 * what would go over the data channel (the real LiveKit server is in test/e2e); what it checks is
 * the publisher's contract: when each message goes, what it holds, and that nothing it hits
 * (a disconnected room, a failing publish, a bad RPC caller) reaches the agent.
 */
import { initializeLogger, voice } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { MetricsConfigError, attachMetrics } from '../../src/index.js';
import type { MetricsRoom } from '../../src/index.js';
import { decodeMessage } from '../../src/wire/decode.js';
import { MAX_MESSAGE_BYTES, type MetricsMessage } from '../../src/wire/messages.js';
import { sleep } from '../support/session-harness.js';
import { ScriptedLLM } from '../support/scripted-llm.js';

interface Sent {
  message: MetricsMessage;
  bytes: number;
  topic: string | undefined;
  to: string[] | undefined;
  reliable: boolean | undefined;
}

type RpcHandler = (data: { callerIdentity: string; payload: string }) => Promise<string>;

/** Records publishData calls; can be disconnected or made to fail. */
class RecordingRoom extends EventEmitter implements MetricsRoom {
  isConnected = true;
  readonly name = 'room-under-test';
  readonly sent: Sent[] = [];
  readonly rpc = new Map<string, RpcHandler>();
  failWith: Error | undefined;
  readonly localParticipant = {
    publishData: async (
      data: Uint8Array,
      options: { reliable?: boolean; topic?: string; destination_identities?: string[] },
    ) => {
      if (this.failWith) throw this.failWith;
      const message = decodeMessage(data);
      assert.ok(message, 'every published payload is a valid message');
      this.sent.push({
        message,
        bytes: data.byteLength,
        topic: options.topic,
        to: options.destination_identities,
        reliable: options.reliable,
      });
    },
    registerRpcMethod: (method: string, handler: RpcHandler) => this.rpc.set(method, handler),
    unregisterRpcMethod: (method: string) => this.rpc.delete(method),
  };

  of<T extends MetricsMessage['type']>(type: T): Array<Extract<MetricsMessage, { type: T }>> {
    return this.sent
      .map((s) => s.message)
      .filter((m): m is Extract<MetricsMessage, { type: T }> => m.type === type);
  }
}

const warnings: unknown[][] = [];
const logger = { warn: (...args: unknown[]) => warnings.push(args) };

before(() => initializeLogger({ pretty: false, level: 'silent' }));

describe('publishing to the room over the data channel', () => {
  const sessions: voice.AgentSession[] = [];
  after(async () => {
    for (const s of sessions) await s.close().catch(() => {});
  });
  async function startSession(turns: Array<{ input: string; ttft: number; fail?: true }>) {
    const fake = new ScriptedLLM(
      turns.map((t) => ({
        input: t.input,
        content: `answer to ${t.input}`,
        ttft: t.ttft,
        duration: t.ttft + 20,
        ...(t.fail ? { fail: true as const } : {}),
      })),
      { provider: 'acme', model: 'acme-1' },
    );
    const session = new voice.AgentSession({ llm: fake });
    sessions.push(session);
    return session;
  }
  const run = async (session: voice.AgentSession, input: string) => {
    try {
      await session.run({ userInput: input }).wait();
    } catch {
      // a failed LLM request fails the run; the metrics still count it
    }
  };

  it('sends each turn at once, a changed summary at most every intervalMs, and a final summary at close', async () => {
    const room = new RecordingRoom();
    const session = await startSession([
      { input: 'one', ttft: 60 },
      { input: 'two', ttft: 90 },
      { input: 'three', ttft: 40 },
    ]);
    const metrics = attachMetrics(session, {
      room,
      publish: { intervalMs: 400 },
      labels: { agent_name: 'pub' },
      logger,
    });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    const startedAt = Date.now();
    for (const input of ['one', 'two', 'three']) await run(session, input);
    await sleep(500);

    const turns = room.of('turn');
    assert.equal(turns.length, 3);
    assert.deepEqual(
      turns.map((t) => t.turn.id),
      metrics.turns().map((t) => t.id),
    );
    const ttfts = turns.map((t) => t.turn.stages.find((s) => s.stage === 'llm')?.firstOutputMs);
    assert.deepEqual(
      ttfts,
      metrics.turns().map((t) => t.stages.find((s) => s.stage === 'llm')?.firstOutputMs),
    );

    const summaries = room.of('summary');
    assert.ok(summaries.length >= 1, 'a summary went out');
    assert.ok(summaries.length <= Math.ceil((Date.now() - startedAt) / 400) + 1, 'throttled');
    for (let i = 1; i < summaries.length; i++) {
      assert.ok(summaries[i]!.at - summaries[i - 1]!.at >= 395, 'at most one summary per interval');
    }
    const lastSummary = summaries.at(-1)!;
    assert.equal(lastSummary.summary.turns, 3, 'the latest summary includes every turn');
    assert.equal(lastSummary.room, 'room-under-test');
    assert.equal(lastSummary.final, false);
    assert.deepEqual(lastSummary.summary.stats.ttft, metrics.summary().stats.ttft);

    // nothing changed: no more summaries
    const before = room.of('summary').length;
    await sleep(900);
    assert.equal(room.of('summary').length, before, 'an unchanged summary is not re-sent');

    for (const s of room.sent) {
      assert.equal(s.topic, 'agent-metrics');
      assert.equal(s.reliable, true);
      assert.equal(s.to, undefined);
      assert.ok(s.bytes <= MAX_MESSAGE_BYTES);
    }
    const seqs = room.sent.map((s) => s.message.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'sequence numbers increase',
    );
    assert.equal(new Set(room.sent.map((s) => s.message.session)).size, 1);

    await session.close();
    const final = room.of('summary').at(-1)!;
    assert.equal(final.final, true);
    assert.equal(final.summary.turns, 3);
    const count = room.sent.length;
    await sleep(500);
    assert.equal(room.sent.length, count, 'nothing is published after the final summary');
    assert.equal(room.rpc.size, 0, 'the summary RPC is unregistered');
    await metrics.close();
  });

  it('sends a room connected at attach its first summary at once, counted as sent', async () => {
    const room = new RecordingRoom();
    const session = await startSession([]);
    const warnings: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      const metrics = attachMetrics(session, { room });
      await sleep(0);
      assert.equal(room.of('summary').length, 1);
      assert.deepEqual(warnings, [], 'nothing failed on the way');
      await metrics.close();
    } finally {
      console.warn = warn;
    }
  });

  it('sends alerts as they are raised', async () => {
    const room = new RecordingRoom();
    const session = await startSession([{ input: 'slow', ttft: 150 }]);
    attachMetrics(session, {
      room,
      alerts: { ttft: { warning: 50, critical: 100 } },
      logger,
    });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await run(session, 'slow');
    const alerts = room.of('alert');
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.alert.state, 'raised');
    assert.equal(alerts[0]!.alert.metric, 'ttft');
    assert.equal(alerts[0]!.alert.level, 'critical');
  });

  it('gives a joining participant the current summary, and answers the summary RPC', async () => {
    const room = new RecordingRoom();
    const session = await startSession([{ input: 'one', ttft: 30 }]);
    attachMetrics(session, { room, publish: { intervalMs: 100 }, logger });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await run(session, 'one');
    await sleep(200);
    const sentBefore = room.sent.length;
    room.emit('participantConnected', { identity: 'late-joiner' });
    await sleep(1_300);
    const toJoiner = room.sent.slice(sentBefore).filter((s) => s.to?.includes('late-joiner'));
    assert.deepEqual(
      toJoiner.map((s) => s.message.type),
      ['summary', 'turn'],
      'the summary, then the last turn',
    );
    assert.deepEqual(toJoiner[0]!.to, ['late-joiner']);

    const handler = room.rpc.get('agent-metrics.summary');
    assert.ok(handler, 'the summary RPC is registered');
    const answer = decodeMessage(await handler({ callerIdentity: 'observer', payload: '' }));
    assert.equal(answer?.type, 'summary');
    assert.equal(answer.type === 'summary' && answer.summary.turns, 1);
    await sleep(20);
    const after = room.sent.filter((s) => s.to?.[0] === 'observer');
    assert.deepEqual(
      after.map((s) => s.message.type),
      ['turn'],
      "the caller's last turn follows over the data channel",
    );
  });

  it("answers a named viewer's summary request to that viewer alone, an anonymous one to every recipient, and rate-limits both", async () => {
    const room = new RecordingRoom();
    const session = await startSession([{ input: 'one', ttft: 30 }]);
    const metrics = attachMetrics(session, { room, logger });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await run(session, 'one');
    await sleep(50);
    const request = (identity: string, topic = 'agent-metrics', sender?: string) =>
      room.emit(
        'dataReceived',
        new TextEncoder().encode(JSON.stringify({ v: 2, type: 'summary_request', identity })),
        sender === undefined ? undefined : { identity: sender },
        1,
        topic,
      );
    const answers = (identity: string) => room.sent.filter((s) => s.to?.[0] === identity);
    const broadcasts = () => room.sent.filter((s) => s.to === undefined);
    const before = broadcasts().length;
    // A hidden viewer's packet comes without a participant: the identity it claims can't be
    // checked, so the answer goes to every recipient, never to the claimed identity alone.
    request('hidden-viewer');
    request('hidden-viewer');
    request('other', 'another-topic');
    room.emit(
      'dataReceived',
      new TextEncoder().encode('{"v":2,"type":"summary_request"}'),
      undefined,
      1,
      'agent-metrics',
    );
    room.emit('dataReceived', new Uint8Array([0xff, 0xfe]), { identity: 'x' }, 1, 'agent-metrics');
    await sleep(10);
    assert.equal(answers('hidden-viewer').length, 0, 'a claimed identity is never targeted');
    assert.deepEqual(
      broadcasts()
        .slice(before)
        .map((s) => s.message.type),
      ['summary', 'turn'],
      'the summary and the last turn, once: repeated anonymous requests are rate-limited',
    );
    const answer = broadcasts().at(-2)!.message;
    assert.equal(answer.type === 'summary' && answer.summary.turns, 1);
    assert.equal(answers('other').length, 0, 'requests on another topic are not ours');
    // a known participant is answered as itself, whatever the request says
    request('someone-else', 'agent-metrics', 'visible-viewer');
    await sleep(10);
    assert.equal(answers('visible-viewer').length, 2);
    assert.equal(answers('someone-else').length, 0);
    assert.equal(
      metrics.summary().health.droppedMessages.rate_limited,
      1,
      'the refused repeat is counted',
    );
  });

  it('only sends to destinationIdentities, when given', async () => {
    const room = new RecordingRoom();
    const session = await startSession([{ input: 'one', ttft: 30 }]);
    attachMetrics(session, {
      room,
      publish: { destinationIdentities: ['support-lead'], topic: 'my-metrics' },
      logger,
    });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await run(session, 'one');
    room.emit('participantConnected', { identity: 'someone-else' });
    await sleep(1_200);
    assert.ok(room.sent.length >= 2);
    for (const s of room.sent) {
      assert.deepEqual(s.to, ['support-lead']);
      assert.equal(s.topic, 'my-metrics');
    }
    const handler = room.rpc.get('my-metrics.summary')!;
    await assert.rejects(handler({ callerIdentity: 'someone-else', payload: '' }));
  });

  it('counts what a disconnected room or a failing publish drops, logs it once, and never throws into the session', async () => {
    warnings.length = 0;
    const room = new RecordingRoom();
    room.isConnected = false;
    const session = await startSession([
      { input: 'a', ttft: 20 },
      { input: 'b', ttft: 20 },
      { input: 'c', ttft: 20 },
      { input: 'd', ttft: 20 },
    ]);
    const metrics = attachMetrics(session, { room, publish: { intervalMs: 100 }, logger });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await run(session, 'a');
    await run(session, 'b');
    assert.equal(room.sent.length, 0);
    assert.equal(metrics.summary().health.droppedMessages.not_connected, 2, 'two turn messages');

    // back online: the summary that could not go out goes now
    room.isConnected = true;
    room.emit('connectionStateChanged', 1);
    await sleep(150);
    assert.equal(room.of('summary').at(-1)?.summary.turns, 2);

    room.failWith = new Error('data channel closed');
    await run(session, 'c');
    await run(session, 'd');
    await sleep(50);
    const dropped = metrics.summary().health.droppedMessages;
    assert.ok((dropped.publish_failed ?? 0) >= 2, JSON.stringify(dropped));
    assert.equal(metrics.stats('ttft').count, 4, 'the session went on');
    const publishWarnings = warnings.filter((w) => String(w[1]).includes('not delivered'));
    assert.equal(publishWarnings.length, 2, 'one warning per reason, not per message');
  });

  it("accepts the job's @livekit/rtc-node Room as it is typed", () => {
    // compile-time check: a job's ctx.room must fit the option without a cast
    const fits = (room: Room): MetricsRoom => room;
    assert.equal(typeof fits, 'function');
  });

  it('publishes nothing with publish: false, and fails fast on bad options', async () => {
    const room = new RecordingRoom();
    const session = await startSession([{ input: 'one', ttft: 20 }]);
    const metrics = attachMetrics(session, { room, publish: false, logger });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await run(session, 'one');
    await sleep(100);
    assert.equal(room.sent.length, 0);
    await metrics.close();

    const other = await startSession([]);
    const bad = (options: Parameters<typeof attachMetrics>[1], pattern: RegExp) =>
      assert.throws(
        () => attachMetrics(other, options),
        (e: unknown) => e instanceof MetricsConfigError && pattern.test(e.message),
      );
    bad({ room, publish: { topic: 'lk.agent' } }, /lk\./);
    bad({ publish: { topic: 'x' } }, /room/);
    bad({ room, publish: { intervalMs: 5 } }, /intervalMs/);
    bad({ room, publish: { destinationIdentities: [] } }, /destinationIdentities/);
    bad({ room: {} as MetricsRoom }, /Room/);
  });
});
