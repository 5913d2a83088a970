/**
 * A job process for bench/hub-worker.ts, forked the way the framework forks one (so it finds
 * the worker's hub through LIVEKIT_AGENTS_METRICS_HUB). Its sessions are stand-ins replaying
 * recorded voice turns (bench/session-replay.ts) into attachMetrics: the plugin's whole path,
 * from session events to the samples its HubClient delivers. Driven over IPC (HubJobCommand).
 */
import { plugin } from './plugin.js';
import type { SessionMetrics } from '../src/index.js';
import { replayingSession } from './session-replay.js';

const { attachMetrics, STAT_NAMES } = plugin;

export type HubJobCommand =
  /** Record into one session as fast as this process can, for `ms`; then close it. */
  | { type: 'record'; ms: number }
  /** Open `count` sessions, each with `turns` replays recorded, and keep them open. */
  | { type: 'open'; count: number; replays: number; agentNames: string[] };

export type HubJobReport =
  | { type: 'ready' }
  | { type: 'recorded'; samples: number; replays: number; ms: number }
  | { type: 'opened'; count: number };

const send = (r: HubJobReport) => process.send!(r);
const samplesOf = (m: SessionMetrics) =>
  STAT_NAMES.reduce((sum, name) => sum + m.stats(name).count, 0);
const open: SessionMetrics[] = [];

async function record(ms: number): Promise<void> {
  const { session, emitReplay } = replayingSession();
  const metrics = attachMetrics(session, { labels: { agent_name: 'throughput' } });
  const start = performance.now();
  let replays = 0;
  while (performance.now() - start < ms) {
    // yield about every millisecond, as a job's event loop does between framework events, so
    // the hub client's timer and acks run
    for (let i = 0; i < 20; i++) emitReplay();
    replays += 20;
    await new Promise((r) => setImmediate(r));
  }
  const elapsed = performance.now() - start;
  const samples = samplesOf(metrics);
  await metrics.close();
  send({ type: 'recorded', samples, replays, ms: elapsed });
}

async function openSessions(count: number, replays: number, names: string[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const { session, emitReplay } = replayingSession();
    const agentName = names[(open.length + process.pid) % names.length]!;
    open.push(attachMetrics(session, { labels: { agent_name: agentName } }));
    for (let r = 0; r < replays; r++) emitReplay();
  }
  send({ type: 'opened', count: open.length });
}

process.on('message', (c: HubJobCommand) => {
  const work = c.type === 'record' ? record(c.ms) : openSessions(c.count, c.replays, c.agentNames);
  work.catch((error: unknown) => {
    console.error('bench job failed:', error);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
