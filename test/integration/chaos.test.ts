/**
 * Chaos: every plugin feature fails at once — the user's sinks throw and reject, the listeners
 * reject, the logger throws, the OpenTelemetry meter throws, the room throws on every call, the
 * worker's hub is gone, and the framework's internals are not the shape the probes verified —
 * while a real voice AgentSession keeps hearing and answering every turn. The plugin counts
 * what it contained and never throws into the agent.
 */
import { initializeLogger } from '@livekit/agents';
import type { Meter } from '@opentelemetry/api';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type MetricsSink,
  type SessionMetrics,
  type TurnTimeline,
  attachMetrics,
  createMetricsRuntime,
} from '../../src/index.js';
import { DEFAULT_BUCKETS } from '../../src/prometheus/metric-families.js';
import { HUB_ENV } from '../../src/prometheus/hub/protocol.js';
import { EnergySTT } from '../support/fake-stt.js';
import { ScriptedLLM } from '../support/scripted-llm.js';
import { startVoiceSession } from '../support/session-harness.js';
import { speak } from '../support/speech.js';
import { nextTurn, shadow } from '../support/metrics-helpers.js';

before(() => initializeLogger({ pretty: false, level: 'silent' }));

const TURNS = 3;
const QUESTIONS = ['hello', 'weather', 'goodbye'];

const boom = () => {
  throw new Error('chaos');
};
const rejecting = () => Promise.reject(new Error('chaos'));

/** A sink whose every method throws or rejects, alternately. */
function chaoticSink(): MetricsSink {
  let n = 0;
  const fail = () => (n++ % 2 === 0 ? boom() : rejecting());
  return {
    sample: fail,
    request: fail,
    usage: fail,
    turnTaking: fail,
    turn: fail,
    alert: fail,
    health: fail,
    close: fail,
  } as MetricsSink;
}

const throwingMeter = new Proxy({} as Meter, { get: () => boom });
/** A room that throws on every call, whose participant's publishData rejects. */
const chaoticRoom = new Proxy(
  { isConnected: true, name: 'chaos' },
  {
    get(_target, key) {
      if (key === 'isConnected') return true;
      if (key === 'localParticipant') return { publishData: rejecting, registerRpcMethod: boom };
      return boom;
    },
  },
);

describe('chaos: every plugin feature fails at once', () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => {});
  });

  it('a real voice session still hears and answers every turn, and the plugin counts what it contained', async () => {
    // the worker's hub is gone: the hand-off names a socket nobody listens on
    const dir = mkdtempSync(join(tmpdir(), 'lkam-chaos-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const previousHub = process.env[HUB_ENV];
    process.env[HUB_ENV] = JSON.stringify({
      v: 1,
      path: join(dir, 'no-hub.sock'),
      layout: DEFAULT_BUCKETS,
      flushMs: 50,
    });
    cleanup.push(() => {
      if (previousHub === undefined) delete process.env[HUB_ENV];
      else process.env[HUB_ENV] = previousHub;
    });
    const runtime = createMetricsRuntime({ hub: 'environment' });

    const llm = new ScriptedLLM(
      QUESTIONS.map((input) => ({ input, content: `About ${input}.`, ttft: 80, duration: 120 })),
    );
    const stt = new EnergySTT({ sttDelayMs: 100, transcripts: QUESTIONS });
    const h = await startVoiceSession({ llm, stt, minEndpointingDelayMs: 300 });
    cleanup.push(() => h.close());
    await h.input.playSilence(200);

    let loggerCalls = 0;
    const sink = h.session.output.audio!;
    let metrics!: SessionMetrics;
    // the framework's internals are not the shape the probes verified
    shadow(h.session, '_activity', { get: () => 'not an activity' }, () =>
      shadow(h.session.output, 'audio', { value: sink, writable: true }, () => {
        metrics = attachMetrics(h.session, {
          runtime,
          logger: {
            warn: () => {
              loggerCalls += 1;
              boom();
            },
          },
          sinks: [chaoticSink(), chaoticSink()],
          otel: { meter: throwingMeter },
          room: chaoticRoom as never,
        });
      }),
    );
    cleanup.push(() => metrics.close());
    metrics
      .on('turn', rejecting as never)
      .on('sample', boom as never)
      .on('alert', rejecting);

    const answered: TurnTimeline[] = [];
    for (const question of QUESTIONS) {
      const speech = await speak(`${question} there how are you today`);
      const turn = nextTurn(metrics, 20_000);
      await h.input.playSpeech(speech);
      answered.push(await turn);
      await h.input.playSilence(600);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));

    // the agent heard and answered every turn
    assert.equal(answered.length, TURNS);
    for (const turn of answered) {
      assert.ok(turn.e2eLatencyMs !== undefined && turn.e2eLatencyMs > 0, 'answered');
      assert.equal(turn.interrupted, false);
    }
    assert.ok(h.output!.segments.length >= TURNS, 'every answer was played');
    const s = metrics.summary();
    assert.equal(s.turns, TURNS);
    assert.equal(
      s.stats.stt_latency.count,
      TURNS,
      `the agent heard every question: ${JSON.stringify(answered)}`,
    );
    assert.equal(s.stats.ttft.count, TURNS);

    // what failed was contained and counted by source
    const c = s.health.containedErrors;
    assert.ok((c['sink:threw'] ?? 0) > 0 && (c['sink:rejected'] ?? 0) > 0, JSON.stringify(c));
    assert.ok((c['listener:threw'] ?? 0) > 0 && (c['listener:rejected'] ?? 0) > 0);
    assert.equal(c['meter:threw'], 1, 'the meter failed once, then OpenTelemetry was left out');
    assert.ok((c['room:threw'] ?? 0) >= 1, 'the room threw; the publisher was left out');
    assert.ok((c['logger:threw'] ?? 0) >= 1);
    assert.equal(
      s.health.internalErrors,
      Object.values(c).reduce((a, b) => a + b, 0),
    );
    assert.deepEqual(Object.keys(s.health.disabledFeatures).sort(), [
      'acoustic_speech_end',
      'audible_output',
    ]);
    // each distinct problem was offered to the logger once, not once per failure
    assert.ok(loggerCalls < s.health.internalErrors, `${loggerCalls} log calls`);

    // closing under chaos does not throw either
    await metrics.close();
    assert.equal(metrics.isClosed, true);
  });
});
