/**
 * What attaching the plugin does to a real agent's turn latency: two text-mode
 * voice.AgentSessions in this process, identical but for attachMetrics on one, answer the same
 * user input through ScriptedLLM with a fixed TTFT. Their turns are interleaved (ABBA order),
 * so drift in machine load falls on both alike. Per turn, from session.run():
 *
 * - e2e: until the agent starts answering (agent_state_changed → speaking, its first token);
 * - turn: until the run is done (the whole answer and the framework's bookkeeping).
 */
import { voice } from '@livekit/agents';
import { plugin } from './plugin.js';
import { ensureFrameworkLogger } from '../test/support/logging.js';
import { ScriptedLLM } from '../test/support/scripted-llm.js';

const { attachMetrics } = plugin;

ensureFrameworkLogger();

export interface TurnLatencyResult {
  turns: number;
  ttftMs: number;
  durationMs: number;
  without: { e2eMs: number; turnMs: number };
  with: { e2eMs: number; turnMs: number };
  /** Mean of the per-pair differences (with − without) and its 95% confidence half-width. */
  difference: { e2eMs: number; e2eCi95Ms: number; turnMs: number; turnCi95Ms: number };
}

interface Agent {
  session: voice.AgentSession;
  close(): Promise<void>;
}

async function startAgent(ttftMs: number, durationMs: number, plugin: boolean): Promise<Agent> {
  const llm = new ScriptedLLM([
    { input: 'hello', content: 'Hello! How can I help?', ttft: ttftMs, duration: durationMs },
  ]);
  const session = new voice.AgentSession({
    llm,
    vad: null,
    userAwayTimeout: null,
    turnHandling: { turnDetection: null },
  });
  const metrics = plugin ? attachMetrics(session, { labels: { agent_name: 'bench' } }) : undefined;
  await session.start({ agent: new voice.Agent({ instructions: 'You are a bench agent.' }) });
  return {
    session,
    close: async () => {
      await metrics?.close();
      await session.close();
    },
  };
}

async function timeTurn(session: voice.AgentSession): Promise<Turn> {
  let speakingAt: number | undefined;
  const onState = (ev: voice.AgentStateChangedEvent) => {
    if (ev.newState === 'speaking') speakingAt ??= performance.now();
  };
  session.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
  const start = performance.now();
  await session.run({ userInput: 'hello' }).wait();
  const end = performance.now();
  session.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
  if (speakingAt === undefined) throw new Error('the agent never started speaking');
  return { e2e: speakingAt - start, turn: end - start };
}

export async function turnLatency(
  turns = 200,
  ttftMs = 50,
  durationMs = 60,
): Promise<TurnLatencyResult> {
  const without = await startAgent(ttftMs, durationMs, false);
  const withPlugin = await startAgent(ttftMs, durationMs, true);
  const samples = { without: [] as Turn[], with: [] as Turn[] };
  const warmup = 10;
  for (let i = 0; i < warmup + turns; i++) {
    const order: Array<'without' | 'with'> =
      i % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    for (const which of order) {
      const t = await timeTurn(which === 'with' ? withPlugin.session : without.session);
      if (i >= warmup) samples[which].push(t);
    }
  }
  await Promise.all([without.close(), withPlugin.close()]);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ci95 = (xs: number[]) => {
    const m = mean(xs);
    const variance = xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
    return 1.96 * Math.sqrt(variance / xs.length);
  };
  const of = (ts: Turn[]) => ({
    e2eMs: mean(ts.map((t) => t.e2e)),
    turnMs: mean(ts.map((t) => t.turn)),
  });
  // the two turns of a pair ran back to back: their difference cancels slower drift
  const e2eDiff = samples.with.map((t, i) => t.e2e - samples.without[i]!.e2e);
  const turnDiff = samples.with.map((t, i) => t.turn - samples.without[i]!.turn);
  return {
    turns,
    ttftMs,
    durationMs,
    without: of(samples.without),
    with: of(samples.with),
    difference: {
      e2eMs: mean(e2eDiff),
      e2eCi95Ms: ci95(e2eDiff),
      turnMs: mean(turnDiff),
      turnCi95Ms: ci95(turnDiff),
    },
  };
}

interface Turn {
  e2e: number;
  turn: number;
}
