import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeriesStore } from '../series-store.js';
import type { BucketLayout } from '../metric-families.js';
import {
  type AckMessage,
  FrameReader,
  type HubAddress,
  isDeltaMessage,
  isValidSnapshot,
} from './protocol.js';

interface JobState {
  activeSessions: number;
  socket: Socket;
}

/** Sequence numbers remembered per job, so a re-sent delta is never added twice. */
const MAX_REMEMBERED_JOBS = 10_000;

/**
 * Runs in the worker's main process: receives the deltas job processes record, adds each once
 * into one cumulative store, and tracks each live job's active sessions. When a job's
 * connection ends (the job finished, or was killed), its counts stay and its gauge goes.
 */
export class HubServer {
  readonly totals: SeriesStore;
  readonly address: HubAddress;
  private readonly server: Server;
  private readonly jobs = new Map<string, JobState>();
  private readonly lastSeqByJob = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private peak = 0;
  rejectedFrames = 0;

  private constructor(layout: BucketLayout, path: string, flushMs: number) {
    this.totals = new SeriesStore(layout);
    this.address = { v: 1, path, layout, flushMs };
    this.server = createServer((socket) => this.onConnection(socket));
    this.server.unref();
  }

  static async start(layout: BucketLayout, flushMs = 1_000): Promise<HubServer> {
    const path = join(tmpdir(), `lkam-${process.pid}-${randomUUID().slice(0, 8)}.sock`);
    const hub = new HubServer(layout, path, flushMs);
    process.once('exit', hub.removeSocketFile);
    await new Promise<void>((resolve, reject) => {
      hub.server.once('error', reject);
      hub.server.listen(path, () => {
        hub.server.off('error', reject);
        resolve();
      });
    });
    return hub;
  }

  /** Sessions open now across live job processes. */
  get activeSessions(): number {
    let sum = 0;
    for (const job of this.jobs.values()) sum += job.activeSessions;
    return sum;
  }

  /** Most sessions open at once across job processes, as reported. */
  get peakSessions(): number {
    return this.peak;
  }

  get liveJobs(): number {
    return this.jobs.size;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    process.off('exit', this.removeSocketFile);
    this.removeSocketFile();
  }

  /** A worker that exits without close() still leaves no socket file behind. */
  private readonly removeSocketFile = (): void => {
    rmSync(this.address.path, { force: true });
  };

  private onConnection(socket: Socket): void {
    socket.setEncoding('utf8');
    this.sockets.add(socket);
    const jobsOnSocket = new Set<string>();
    const reader = new FrameReader(
      (frame) => {
        try {
          if (!isDeltaMessage(frame)) {
            this.rejectedFrames += 1;
            return;
          }
          jobsOnSocket.add(frame.job);
          if (!isValidSnapshot(frame.delta, this.totals.layout)) {
            // Acknowledged all the same: re-sending a malformed delta would not mend it.
            this.rejectedFrames += 1;
            this.acknowledge(socket, frame.seq);
            return;
          }
          this.onDelta(frame.job, frame.seq, frame.activeSessions, frame.delta, socket);
        } catch {
          this.rejectedFrames += 1; // a peer's frame never takes the worker down
        }
      },
      () => {
        this.rejectedFrames += 1;
        socket.destroy();
      },
    );
    socket.on('data', (chunk: string) => reader.push(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      for (const job of jobsOnSocket) {
        if (this.jobs.get(job)?.socket === socket) this.jobs.delete(job);
      }
    });
  }

  private onDelta(
    job: string,
    seq: number,
    activeSessions: number,
    delta: Parameters<SeriesStore['merge']>[0],
    socket: Socket,
  ): void {
    const last = this.lastSeqByJob.get(job) ?? 0;
    if (seq > last) {
      try {
        this.totals.merge(delta);
      } catch {
        this.rejectedFrames += 1;
        return;
      }
      this.lastSeqByJob.delete(job); // re-insert: the map's order is least recently seen first
      this.lastSeqByJob.set(job, seq);
      if (this.lastSeqByJob.size > MAX_REMEMBERED_JOBS) {
        this.lastSeqByJob.delete(this.lastSeqByJob.keys().next().value!);
      }
    }
    this.jobs.set(job, { activeSessions, socket });
    const active = this.activeSessions;
    if (active > this.peak) this.peak = active;
    this.acknowledge(socket, seq);
  }

  private acknowledge(socket: Socket, seq: number): void {
    const ack: AckMessage = { v: 1, type: 'lkam:ack', seq };
    if (!socket.destroyed) socket.write(`${JSON.stringify(ack)}\n`);
  }
}
