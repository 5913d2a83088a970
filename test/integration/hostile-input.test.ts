/**
 * Input from outside the process is hostile until validated and bounded: tool names an LLM
 * invented, errors that cannot even be printed, and participants flooding the agent with summary
 * requests. Each test drives a real AgentSession.
 */
import { initializeLogger, voice } from '@livekit/agents';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import {
  attachMetrics,
  createMetricsRuntime,
  startMetricsServer,
  type MetricsRoom,
  type MetricsSink,
} from '../../src/index.js';
import { decodeMessage } from '../../src/wire/decode.js';
import { ScriptedLLM } from '../support/scripted-llm.js';
import { promtoolCheckMetrics } from '../support/prometheus-tools.js';

before(() => initializeLogger({ pretty: false, level: 'silent' }));

const quietLogger = { warn: () => {} };

async function runTurns(session: voice.AgentSession, inputs: string[]) {
  for (const userInput of inputs)
    await session
      .run({ userInput })
      .wait()
      .catch(() => {});
}

/** An LLM that calls, for each input, one tool of the given name (no such tool exists). */
function inventingLLM(names: string[]) {
  return new ScriptedLLM(
    names.map((name, i) => ({
      input: `q${i}`,
      content: '',
      ttft: 5,
      duration: 10,
      toolCalls: [{ name, args: {} }],
    })),
    { fallback: { content: 'Sorry.', ttft: 5, duration: 10 } },
  );
}

describe('hostile input', () => {
  const closers: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  });

  it('caps invented tool names of 1 MiB at 128 characters everywhere, and /metrics stays valid', async () => {
    const names = Array.from(
      { length: 20 },
      (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(1024 * 1024)}`,
    );
    const runtime = createMetricsRuntime({ hub: false });
    const session = new voice.AgentSession({ llm: inventingLLM(names) });
    closers.push(() => session.close());
    const metrics = attachMetrics(session, { runtime, logger: quietLogger });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await runTurns(
      session,
      names.map((_, i) => `q${i}`),
    );
    const s = metrics.summary();
    const keys = Object.keys(s.functions);
    assert.ok(keys.length >= 20, `${keys.length} tool names recorded`);
    for (const key of keys) assert.ok(key.length <= 128, `a key of ${key.length} characters`);
    assert.ok(JSON.stringify(s).length < 64 * 1024, 'the summary stays small');

    const server = await startMetricsServer({ port: 0, host: '127.0.0.1', hub: false, runtime });
    closers.push(() => server.close());
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.length < 512 * 1024, `/metrics is ${text.length} bytes`);
    for (const m of text.matchAll(/function="([^"]*)"/g)) assert.ok(m[1]!.length <= 128);
    const check = promtoolCheckMetrics(text);
    assert.equal(check.status, 0, check.output);
    assert.equal(check.output, '', 'no lint findings');
  });

  it('keeps a tool named __proto__ (or constructor) an ordinary entry of summary().functions', async () => {
    const session = new voice.AgentSession({
      llm: inventingLLM(['__proto__', 'constructor', 'toString']),
    });
    closers.push(() => session.close());
    const metrics = attachMetrics(session, {
      runtime: createMetricsRuntime({ hub: false }),
      logger: quietLogger,
    });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await runTurns(session, ['q0', 'q1', 'q2']);
    const functions = metrics.summary().functions;
    assert.equal(Object.getPrototypeOf(functions), null);
    for (const name of ['__proto__', 'constructor', 'toString']) {
      const own = Object.getOwnPropertyDescriptor(functions, name)?.value;
      assert.equal(own?.count, 1, `${name} is counted as a tool`);
    }
    assert.ok(!('count' in Object.prototype), 'no prototype was touched');
    const json = JSON.parse(JSON.stringify(metrics.summary()));
    assert.equal(Object.getOwnPropertyDescriptor(json.functions, '__proto__')?.value.count, 1);
  });

  it('contains a listener or sink that throws what cannot be printed, and counts it', async () => {
    const unprintable = Object.create(null) as object; // String() of it throws
    const trap = new Error('x');
    Object.defineProperty(trap, 'message', {
      get() {
        throw new Error('the message getter throws');
      },
    });
    const sink: MetricsSink = {
      sample: () => {
        throw trap;
      },
      turn: () => {
        throw unprintable;
      },
    };
    const session = new voice.AgentSession({
      llm: new ScriptedLLM([
        { input: 'a', content: 'One.', ttft: 5, duration: 10 },
        { input: 'b', content: 'Two.', ttft: 5, duration: 10 },
      ]),
    });
    closers.push(() => session.close());
    const warnings: unknown[] = [];
    const metrics = attachMetrics(session, {
      runtime: createMetricsRuntime({ hub: false }),
      sinks: [sink],
      logger: { warn: (obj) => warnings.push(obj) },
    });
    metrics.on('turn', () => {
      throw unprintable;
    });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await runTurns(session, ['a', 'b']);
    assert.equal(metrics.stats('ttft').count, 2, 'the metrics kept working');
    assert.ok(metrics.summary().health.internalErrors >= 4, 'each failure was counted');
    assert.ok(
      warnings.length >= 1 && warnings.length <= 4,
      `logged once per kind: ${warnings.length}`,
    );
  });

  it('answers at most a few summary RPCs of a flood, from one identity or from a thousand', async () => {
    const room = new FloodRoom();
    const session = new voice.AgentSession({
      llm: new ScriptedLLM([{ input: 'a', content: 'One.', ttft: 5, duration: 10 }]),
    });
    closers.push(() => session.close());
    const metrics = attachMetrics(session, {
      room,
      runtime: createMetricsRuntime({ hub: false }),
      logger: quietLogger,
    });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await runTurns(session, ['a']);
    const rpc = room.rpc.get('agent-metrics.summary')!;
    const before = room.sent;
    const callers = [
      ...Array.from({ length: 5000 }, () => 'flooder'),
      ...Array.from({ length: 1000 }, (_, i) => `claimed-${i}`),
    ];
    const answers = await Promise.allSettled(
      callers.map((c) => rpc({ callerIdentity: c, payload: '' })),
    );
    const answered = answers.filter((a) => a.status === 'fulfilled').length;
    assert.ok(answered >= 1 && answered <= 10, `${answered} of 6000 RPCs answered`);
    // anonymous summary requests claiming 1000 identities: one broadcast answer at most
    for (let i = 0; i < 1000; i++) {
      room.emit(
        'dataReceived',
        new TextEncoder().encode(
          JSON.stringify({ v: 2, type: 'summary_request', identity: `v${i}` }),
        ),
        undefined,
        1,
        'agent-metrics',
      );
    }
    await new Promise((r) => setTimeout(r, 50));
    const summaries = room.sent - before;
    assert.ok(summaries <= 2 * answered + 2, `${summaries} messages sent for the whole flood`);
    assert.ok(
      (metrics.summary().health.droppedMessages.rate_limited ?? 0) >= 6000 - answered,
      'every refusal is counted',
    );
  });
});

/** A room that records how many messages the agent published, and its RPC handlers. */
class FloodRoom extends EventEmitter implements MetricsRoom {
  isConnected = true;
  readonly name = 'flood';
  sent = 0;
  readonly rpc = new Map<
    string,
    (data: { callerIdentity: string; payload: string }) => Promise<string>
  >();
  readonly localParticipant = {
    publishData: async (data: Uint8Array) => {
      assert.ok(decodeMessage(data));
      this.sent += 1;
    },
    registerRpcMethod: (
      method: string,
      handler: (data: { callerIdentity: string; payload: string }) => Promise<string>,
    ) => this.rpc.set(method, handler),
    unregisterRpcMethod: (method: string) => this.rpc.delete(method),
  };
}
