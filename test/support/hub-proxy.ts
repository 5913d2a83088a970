import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeltaMessage, HubAddress } from '../../src/prometheus/hub/protocol.js';

/** A delta that carries TTFT samples (job clients also send empty deltas every interval). */
export const carriesSamples = (d: DeltaMessage): boolean =>
  (d.delta.histograms.ttft?.length ?? 0) > 0;

/** What the proxy does with the next delta frame a job sends. */
export type DeltaFault =
  /** Forward it; when the hub's ack comes back, cut both connections instead of passing it on:
   * the hub has counted the delta, the job does not know and will send it again. */
  | 'cut-before-ack'
  /** Cut both connections without forwarding it: the hub never saw it. */
  | 'drop';

/**
 * A unix-socket man in the middle between job processes and the worker's hub. Jobs reach it
 * through LIVEKIT_AGENTS_METRICS_HUB (see `env`), which is how every job finds the hub, so
 * nothing in src/ has to expose its sockets. It forwards newline-delimited frames both ways
 * and records what passed: the deltas the hub received, and the sequence numbers the hub
 * acknowledged — a delta is acknowledged after the hub has added it, so the acknowledged
 * deltas are exactly what the hub has counted, whether or not the job lived to read the ack.
 */
export class HubProxy {
  /** Delta frames forwarded to the hub, in order (re-sends included). */
  readonly forwarded: DeltaMessage[] = [];
  /** `${job}:${seq}` of every ack the hub sent back. */
  readonly acked = new Set<string>();
  connections = 0;
  private readonly server: Server;
  private readonly faults: Array<{ fault: DeltaFault; when: (d: DeltaMessage) => boolean }> = [];
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly hub: HubAddress,
    readonly address: HubAddress,
  ) {
    this.server = createServer((client) => this.onClient(client));
  }

  static async start(hub: HubAddress): Promise<HubProxy> {
    const path = join(tmpdir(), `lkam-proxy-${process.pid}-${randomUUID().slice(0, 8)}.sock`);
    const proxy = new HubProxy(hub, { ...hub, path });
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(path, resolve);
    });
    return proxy;
  }

  /** An environment whose jobs reach the hub through this proxy. */
  env(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return { ...base, LIVEKIT_AGENTS_METRICS_HUB: JSON.stringify(this.address) };
  }

  /** Applies `fault` to the next delta frame that passes and satisfies `when`. */
  inject(fault: DeltaFault, when: (d: DeltaMessage) => boolean = () => true): void {
    this.faults.push({ fault, when });
  }

  get pendingFaults(): number {
    return this.faults.length;
  }

  /** The deltas the hub acknowledged, each once (a re-sent seq is the same delta). */
  ackedDeltas(): DeltaMessage[] {
    const seen = new Map<string, DeltaMessage>();
    for (const d of this.forwarded) {
      const id = `${d.job}:${d.seq}`;
      if (this.acked.has(id) && !seen.has(id)) seen.set(id, d);
    }
    return [...seen.values()];
  }

  /** Resolves when no connection is open (e.g. after the job died and the hub side drained). */
  async idle(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.open.size > 0) {
      if (Date.now() > deadline) throw new Error('hub proxy: connections still open');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.address.path, { force: true });
  }

  private onClient(client: Socket): void {
    this.connections += 1;
    const upstream = createConnection(this.hub.path);
    this.open.add(client).add(upstream);
    let cutOnAck: string | undefined;
    // one HubClient per connection: its acks belong to the job whose deltas it carried
    let job: string | undefined;
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    // When the job dies its side closes; the hub side is ended (not destroyed) so the hub still
    // reads what was forwarded, and the acks it writes back are still recorded.
    client.on('close', () => {
      this.open.delete(client);
      upstream.end();
    });
    upstream.on('close', () => {
      this.open.delete(upstream);
      client.destroy();
    });
    client.on('error', () => {});
    upstream.on('error', () => {});

    lines(client, (line) => {
      let frame: DeltaMessage | undefined;
      try {
        const parsed = JSON.parse(line) as DeltaMessage;
        if (parsed.type === 'lkam:delta') frame = parsed;
      } catch {
        // not ours to judge: forwarded as is
      }
      const next = this.faults[0];
      const fault = frame && next?.when(frame) ? this.faults.shift()!.fault : undefined;
      if (fault === 'drop') return cut();
      if (frame) {
        job = frame.job;
        this.forwarded.push(frame);
        if (fault === 'cut-before-ack') cutOnAck = `${frame.job}:${frame.seq}`;
      }
      upstream.write(`${line}\n`);
    });
    lines(upstream, (line) => {
      try {
        const ack = JSON.parse(line) as { type?: string; seq?: number };
        if (ack.type === 'lkam:ack' && job) {
          const id = `${job}:${ack.seq}`;
          this.acked.add(id);
          if (id === cutOnAck) return cut();
        }
      } catch {
        // forwarded as is
      }
      if (!client.destroyed) client.write(`${line}\n`);
    });
  }
}

function lines(socket: Socket, onLine: (line: string) => void): void {
  socket.setEncoding('utf8');
  let buffer = '';
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let i: number;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      onLine(line);
    }
  });
}
