import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { type BucketLayout, FAMILIES } from '../metric-families.js';
import { DEFAULT_MAX_SERIES, DROPPED, type DropReason, SeriesStore } from '../series-store.js';
import {
  type AckMessage,
  DeltaEnvelopeSchema,
  type DeltaMessage,
  type HubAddress,
  deltaMessageSchema,
  describeIssue,
  snapshotSchema,
} from './protocol.js';
import { FrameReader } from './frame-reader.js';
import { type SocketDir, createSocketDir } from './socket-dir.js';

/** Limits of a hub; the defaults suit a worker with a few hundred job processes. */
export interface HubServerOptions {
  /** How often job processes deliver, in ms. Default: `1000`. */
  flushMs?: number;
  /** Connections open at once; more are closed as they arrive. Default: `256`. */
  maxConnections?: number;
  /** A connection with no traffic for this long is closed. Default: 10 × flushMs, ≥ 30 s. */
  idleTimeoutMs?: number;
  /** Bytes of unfinished frames across every connection. Default: 32 MiB. */
  maxBufferedBytes?: number;
  /** Acknowledgements a peer has not read, in bytes, before it is cut. Default: 64 KiB. */
  maxUnreadAckBytes?: number;
  /** Series the totals keep (every family counts). Default: DEFAULT_MAX_SERIES. */
  maxSeries?: number;
  /** Where refusals are logged (once per reason). Default: console.warn. */
  log?: (message: string) => void;
  /**
   * Names a stable socket directory (see socket-dir.ts), so job processes find the hub of a
   * restarted worker main process at the address they inherited. Default: none, a directory
   * named by the pid.
   */
  stableName?: string;
}

interface JobState {
  activeSessions: number;
  socket: Socket;
}

/** Sequence numbers remembered per job, so a re-sent delta is never added twice. */
const MAX_REMEMBERED_JOBS = 10_000;
/** A stable hub's totals, in its directory, so a restarted worker continues its counters. */
const STATE_FILE = 'totals.json';
/** How long a stable hub gathers deltas before it adds, saves and acknowledges them. */
const COMMIT_MS = 50;

const HubStateSchema = (layout: BucketLayout) =>
  v.object({
    v: v.literal(1),
    type: v.literal('lkam:hub-state'),
    totals: snapshotSchema(layout),
    seqs: v.pipe(
      v.array(
        v.tuple([
          v.pipe(v.string(), v.maxLength(64)),
          v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
        ]),
      ),
      v.maxLength(MAX_REMEMBERED_JOBS),
    ),
  });

interface PendingDelta {
  message: DeltaMessage;
  socket: Socket;
  cut: (reason: DropReason) => void;
}

const defaultLog = (message: string) => console.warn(`[livekit-agents-metrics] ${message}`);

/**
 * Runs in the worker's main process: receives the deltas job processes record, adds each once
 * into one cumulative store, and tracks each live job's active sessions. When a job's
 * connection ends (the job finished, or was killed), its counts stay and its gauge goes.
 *
 * Every frame is validated (see protocol.ts), and everything a peer can make the hub hold is
 * bounded: connections, bytes of unfinished frames per connection and in total, unread
 * acknowledgements, idle time, one job per connection, series. What is refused is counted in
 * `dropped_samples{reason="hub_…"}` and logged once per reason.
 */
export class HubServer {
  readonly totals: SeriesStore;
  readonly address: HubAddress;
  private readonly server: Server;
  private readonly schema: ReturnType<typeof deltaMessageSchema>;
  private readonly jobs = new Map<string, JobState>();
  private readonly lastSeqByJob = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly warned = new Set<DropReason>();
  private readonly limits: Required<Omit<HubServerOptions, 'stableName'>>;
  private peak = 0;
  private buffered = 0;
  /** Where a stable hub keeps its totals; none for a hub of one process's lifetime. */
  private readonly statePath: string | undefined;
  private pending: PendingDelta[] = [];
  private commitTimer: ReturnType<typeof setTimeout> | undefined;
  private stateWarned = false;
  /** Refusals counted in the totals since they were last saved. */
  private unsaved = false;

  private constructor(
    layout: BucketLayout,
    private readonly dir: SocketDir,
    options: HubServerOptions,
  ) {
    const flushMs = options.flushMs ?? 1_000;
    this.limits = {
      flushMs,
      maxConnections: options.maxConnections ?? 256,
      idleTimeoutMs: options.idleTimeoutMs ?? Math.max(30_000, 10 * flushMs),
      maxBufferedBytes: options.maxBufferedBytes ?? 32 * 1024 * 1024,
      maxUnreadAckBytes: options.maxUnreadAckBytes ?? 64 * 1024,
      maxSeries: options.maxSeries ?? DEFAULT_MAX_SERIES,
      log: options.log ?? defaultLog,
    };
    this.totals = new SeriesStore(layout, this.limits.maxSeries);
    this.schema = deltaMessageSchema(layout);
    this.address = { v: 1, path: dir.socketPath, layout, flushMs };
    this.server = createServer((socket) => this.onConnection(socket));
    this.server.maxConnections = this.limits.maxConnections;
    this.server.on('drop', () => this.refuse('hub_connection_limit'));
    this.server.unref();
    if (options.stableName !== undefined && dir.stable) {
      this.statePath = join(dir.path, STATE_FILE);
      this.restore(layout);
    }
  }

  /**
   * Listens on a socket in a private directory (see socket-dir.ts): a new one, or the stable one
   * `stableName` names; after removing the directories of hubs whose process died without
   * cleaning up.
   */
  static async start(layout: BucketLayout, options: HubServerOptions = {}): Promise<HubServer> {
    const dir = await createSocketDir(tmpdir(), options.stableName);
    const hub = new HubServer(layout, dir, options);
    try {
      await new Promise<void>((resolve, reject) => {
        hub.server.once('error', reject);
        hub.server.listen(dir.socketPath, () => {
          hub.server.off('error', reject);
          resolve();
        });
      });
      dir.restrictSocket();
    } catch (error) {
      dir.remove();
      throw error;
    }
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

  /** Connections open now. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Bytes of unfinished frames held across connections. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Adds the deltas received since the last commit to the totals; a stable hub saves the totals
   * before it acknowledges them, and before a scrape can see them (the metrics server calls
   * this first). So what Prometheus saw, and what a job was told arrived, is what a restarted
   * worker starts from: its counters never go back, and no delta is added twice or lost.
   */
  commit(): void {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    if (this.pending.length === 0 && !this.unsaved) return;
    this.unsaved = false;
    const batch = this.pending;
    this.pending = [];
    for (const p of batch) this.apply(p.message, p.socket);
    this.persist();
    for (const p of batch) this.acknowledge(p.socket, p.message.seq, p.cut);
  }

  async close(): Promise<void> {
    this.commit();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.dir.remove();
  }

  private refuse(reason: DropReason, detail?: string): void {
    this.totals.inc('dropped_samples', DROPPED[reason]);
    this.unsaved = this.statePath !== undefined; // saved before a scrape shows it
    if (this.warned.has(reason)) return;
    this.warned.add(reason);
    this.limits.log(
      `worker hub refused input (${reason}${detail ? `: ${detail}` : ''}); ` +
        `counted in ${FAMILIES.dropped_samples.name}, logged once`,
    );
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    let job: string | undefined;
    let held = 0;
    const release = () => {
      this.buffered -= held;
      held = 0;
    };
    const cut = (reason: DropReason) => {
      if (socket.destroyed) return;
      this.refuse(reason);
      socket.destroy();
    };
    const reader = new FrameReader(
      (frame) => {
        if (socket.destroyed) return; // cut: the rest of its last chunk is not read
        try {
          job = this.onFrame(frame, socket, job, cut);
        } catch {
          this.refuse('hub_invalid_frame'); // a peer's frame never takes the worker down
        }
      },
      () => cut('hub_oversize_frame'),
    );
    socket.setTimeout(this.limits.idleTimeoutMs, () => cut('hub_idle_connection'));
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      if (socket.destroyed) return;
      this.buffered += reader.buffered - held;
      held = reader.buffered;
      if (this.buffered > this.limits.maxBufferedBytes) {
        release();
        cut('hub_buffer_limit');
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      release();
      this.sockets.delete(socket);
      if (job !== undefined && this.jobs.get(job)?.socket === socket) this.jobs.delete(job);
    });
  }

  /** Handles one frame of a connection; returns the connection's job. */
  private onFrame(
    frame: unknown,
    socket: Socket,
    job: string | undefined,
    cut: (reason: DropReason) => void,
  ): string | undefined {
    const envelope = v.safeParse(DeltaEnvelopeSchema, frame, { abortEarly: true });
    if (!envelope.success) {
      this.refuse('hub_invalid_frame', describeIssue(envelope.issues));
      return job;
    }
    // A connection is one job process: a second job id is a peer inventing jobs.
    if (job !== undefined && envelope.output.job !== job) {
      cut('hub_extra_job');
      return job;
    }
    const message = v.safeParse(this.schema, frame, { abortEarly: true });
    if (!message.success) {
      // Acknowledged all the same: re-sending a malformed delta would not mend it.
      this.refuse('hub_invalid_frame', describeIssue(message.issues));
      this.acknowledge(socket, envelope.output.seq, cut);
      return envelope.output.job;
    }
    this.onDelta(message.output, socket, cut);
    return envelope.output.job;
  }

  private onDelta(message: DeltaMessage, socket: Socket, cut: (r: DropReason) => void): void {
    if (!this.statePath) {
      this.apply(message, socket);
      this.acknowledge(socket, message.seq, cut);
      return;
    }
    this.pending.push({ message, socket, cut });
    this.commitTimer ??= setTimeout(() => this.commit(), COMMIT_MS);
    this.commitTimer.unref();
  }

  private apply(message: DeltaMessage, socket: Socket): void {
    const { job, seq } = message;
    const last = this.lastSeqByJob.get(job) ?? 0;
    if (seq > last) {
      this.totals.merge(message.delta);
      this.lastSeqByJob.delete(job); // re-insert: the map's order is least recently seen first
      this.lastSeqByJob.set(job, seq);
      if (this.lastSeqByJob.size > MAX_REMEMBERED_JOBS) this.forgetOneJob();
    }
    if (socket.destroyed) return; // its job's gauge went with the connection
    this.jobs.set(job, { activeSessions: message.activeSessions, socket });
    const active = this.activeSessions;
    if (active > this.peak) this.peak = active;
  }

  /** Writes the totals and the sequence numbers seen, replacing the file in one rename. */
  private persist(): void {
    if (!this.statePath) return;
    try {
      const state = {
        v: 1,
        type: 'lkam:hub-state',
        totals: this.totals.snapshot(),
        seqs: [...this.lastSeqByJob],
      };
      const temporary = `${this.statePath}.${process.pid}.tmp`;
      writeFileSync(temporary, JSON.stringify(state), { mode: 0o600 });
      renameSync(temporary, this.statePath);
    } catch (error) {
      this.warnState(`cannot save the hub's totals (${(error as Error).message})`);
    }
  }

  /** Starts from the totals an earlier hub of this worker saved, when they are valid. */
  private restore(layout: BucketLayout): void {
    let text: string;
    try {
      text = readFileSync(this.statePath!, 'utf8');
    } catch {
      return; // the first start
    }
    try {
      const state = v.safeParse(HubStateSchema(layout), JSON.parse(text));
      if (!state.success) throw new Error(describeIssue(state.issues));
      this.totals.merge(state.output.totals);
      for (const [job, seq] of state.output.seqs) this.lastSeqByJob.set(job, seq);
    } catch (error) {
      this.warnState(
        `ignored the saved totals of an earlier hub (${(error as Error).message}); ` +
          'counters start from zero',
      );
    }
  }

  private warnState(message: string): void {
    if (this.stateWarned) return;
    this.stateWarned = true;
    this.limits.log(`${message}; logged once`);
  }

  /** Forgets the least recently seen job that is not connected now. */
  private forgetOneJob(): void {
    for (const job of this.lastSeqByJob.keys()) {
      if (this.jobs.has(job)) continue;
      this.lastSeqByJob.delete(job);
      return;
    }
  }

  private acknowledge(socket: Socket, seq: number, cut: (r: DropReason) => void): void {
    if (socket.destroyed) return;
    // A peer that does not read its acks would make them pile up here.
    if (socket.writableLength > this.limits.maxUnreadAckBytes) return cut('hub_unread_acks');
    const ack: AckMessage = { v: 1, type: 'lkam:ack', seq };
    socket.write(`${JSON.stringify(ack)}\n`);
  }
}
