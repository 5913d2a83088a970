/**
 * What publishing to the room adds: the per-turn cost of `attachMetrics` with `room` against the
 * same without it (interleaved rounds, same process), the work behind one summary (sent at most
 * every `intervalMs`), the size of the messages, and a viewer's cost to read one. The room is a
 * stand-in whose publishData only records sizes: the SDK's own send is not the plugin's cost.
 */
import { EventEmitter } from 'node:events';
import { plugin } from './plugin.js';
import { replayingSession, turnsPerReplay } from './session-replay.js';

const { attachMetrics, decodeMessage, MetricsFeed } = plugin;

class SizingRoom extends EventEmitter {
  readonly isConnected = true;
  readonly name = 'bench-room';
  /** Everything published; read after the timed loops. */
  readonly payloads: Uint8Array[] = [];
  readonly localParticipant = {
    publishData: (data: Uint8Array): Promise<void> => {
      this.payloads.push(data);
      return Promise.resolve();
    },
  };

  sizesByType(): Map<string, number[]> {
    const sizes = new Map<string, number[]>();
    for (const data of this.payloads) {
      const type = decodeMessage(data)?.type ?? 'invalid';
      if (!sizes.has(type)) sizes.set(type, []);
      sizes.get(type)!.push(data.byteLength);
    }
    return sizes;
  }
}

export interface PublishBenchResult {
  nsPerTurnWithout: number;
  nsPerTurnWith: number;
  summaryNs: number;
  feedNs: number;
  bytes: Record<string, { median: number; max: number; count: number }>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

export async function publishBenchmarks(): Promise<PublishBenchResult> {
  const room = new SizingRoom();
  const plain = replayingSession();
  const publishing = replayingSession();
  const withoutRoom = attachMetrics(plain.session, { labels: { agent_name: 'support' } });
  const withRoom = attachMetrics(publishing.session, {
    labels: { agent_name: 'support' },
    room,
    publish: { intervalMs: 100 },
  });
  for (let i = 0; i < 2_000; i++) {
    plain.emitReplay();
    publishing.emitReplay();
  }
  const rounds = { without: [] as number[], with: [] as number[] };
  for (let round = 0; round < 9; round++) {
    for (const [name, replay] of [
      ['without', plain],
      ['with', publishing],
    ] as const) {
      replay.prepare(1_000);
      await new Promise((r) => setTimeout(r, 120)); // due summaries go out between rounds
      const start = process.hrtime.bigint();
      for (let i = 0; i < 1_000; i++) replay.emitPrepared(i);
      rounds[name].push(Number(process.hrtime.bigint() - start) / 1_000 / turnsPerReplay);
      replay.advance(1_000);
    }
  }

  // One summary's work: build it, fingerprint it (to send only a changed one), serialize it.
  const encoder = new TextEncoder();
  const summaryRounds: number[] = [];
  for (let round = 0; round < 9; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 2_000; i++) {
      const summary = withRoom.summary();
      JSON.stringify({ ...summary, at: 0 });
      encoder.encode(JSON.stringify({ v: 2, type: 'summary', seq: i, summary }));
    }
    summaryRounds.push(Number(process.hrtime.bigint() - start) / 2_000);
  }

  // A viewer (overlay, watch) reading one message: decode, validate, fold into its state.
  const feed = new MetricsFeed();
  const payloads = room.payloads.slice(-16);
  const feedRounds: number[] = [];
  for (let round = 0; round < 9; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) feed.receive(payloads[i % payloads.length]!, `agent-${i}`);
    feedRounds.push(Number(process.hrtime.bigint() - start) / 10_000);
  }
  await withoutRoom.close();
  await withRoom.close();
  const bytes: PublishBenchResult['bytes'] = {};
  for (const [type, sizes] of room.sizesByType()) {
    bytes[type] = { median: median(sizes), max: Math.max(...sizes), count: sizes.length };
  }
  return {
    nsPerTurnWithout: median(rounds.without),
    nsPerTurnWith: median(rounds.with),
    summaryNs: median(summaryRounds),
    feedNs: median(feedRounds),
    bytes,
  };
}
