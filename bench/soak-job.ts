/**
 * A job process of the soak (bench/soak.ts), forked the way the framework forks one, so its
 * sessions' samples reach the soak's hub through LIVEKIT_AGENTS_METRICS_HUB. It runs `loops`
 * sessions at a time; each loop opens a real text-mode `voice.AgentSession` with metrics
 * attached, runs `turnsPerSession` turns against a fake LLM (the framework's FakeLLM, through
 * test/support/scripted-llm.ts), closes it, and opens the next, until told to stop. Driven over
 * IPC (SoakJobCommand); never writes to stdout.
 */
import { voice } from '@livekit/agents';
import { attachMetrics } from '../src/index.js';
import { silenceFrameworkLogs } from '../test/support/logging.js';
import { ScriptedLLM } from '../test/support/scripted-llm.js';

silenceFrameworkLogs();

export interface SoakJobPlan {
  loops: number;
  turnsPerSession: number;
  /** The fake LLM's time to first token and to the end of its answer. */
  ttftMs: number;
  /** Pause between a turn's end and the next user input (a caller thinking). */
  thinkMs: number;
  /** Agent names the sessions take in turn (a label of every series). */
  agentNames: string[];
}

export type SoakJobCommand =
  | ({ type: 'run' } & SoakJobPlan)
  /** Reports memory after a full GC (the process runs with --expose-gc). */
  | { type: 'sample' }
  /** Lets every loop finish its turn, close its session, and stop. */
  | { type: 'stop' };

export interface SoakJobCounts {
  /** Turns whose `run()` completed: one LLM request each. */
  turns: number;
  sessionsOpened: number;
  sessionsClosed: number;
}

export type SoakJobReport =
  | { type: 'ready'; pid: number }
  | ({ type: 'sample'; heapUsed: number; rss: number } & SoakJobCounts)
  | ({ type: 'stopped' } & SoakJobCounts);

const counts: SoakJobCounts = { turns: 0, sessionsOpened: 0, sessionsClosed: 0 };
let stopping = false;
let running: Promise<unknown> = Promise.resolve();

const send = (r: SoakJobReport) => {
  if (process.connected) process.send!(r);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function loop(index: number, plan: SoakJobPlan): Promise<void> {
  for (let n = 0; !stopping; n++) {
    const llm = new ScriptedLLM([], {
      provider: 'scripted',
      model: 'soak-1',
      fallback: { content: 'ok', ttft: plan.ttftMs, duration: plan.ttftMs + 5 },
    });
    const session = new voice.AgentSession({
      llm,
      vad: null,
      userAwayTimeout: null,
      turnHandling: { turnDetection: null },
    });
    const agentName = plan.agentNames[(index + n) % plan.agentNames.length]!;
    const metrics = attachMetrics(session, { labels: { agent_name: agentName } });
    await session.start({ agent: new voice.Agent({ instructions: 'You are a soak test.' }) });
    counts.sessionsOpened += 1;
    for (let t = 0; t < plan.turnsPerSession && !stopping; t++) {
      await session.run({ userInput: `turn ${t}` }).wait();
      counts.turns += 1;
      await sleep(plan.thinkMs);
    }
    await session.close();
    await metrics.close();
    counts.sessionsClosed += 1;
  }
}

process.on('message', (command: SoakJobCommand) => {
  switch (command.type) {
    case 'run':
      running = Promise.all(
        Array.from({ length: command.loops }, (_, i) => loop(i, command)),
      ).catch((error: unknown) => {
        console.error('soak job failed:', error);
        process.exit(1);
      });
      return;
    case 'sample': {
      global.gc?.();
      const { heapUsed, rss } = process.memoryUsage();
      send({ type: 'sample', heapUsed, rss, ...counts });
      return;
    }
    case 'stop':
      stopping = true;
      void running.then(() => send({ type: 'stopped', ...counts }));
  }
});
// An orphan (the soak died) ends itself.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', pid: process.pid });
