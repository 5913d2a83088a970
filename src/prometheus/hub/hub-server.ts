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
} from './protocol.js';
import { FrameReader } from './frame-reader.js';
import { type SocketDir, createSocketDir } from './socket-dir.js';
import { MAX_REMEMBERED_JOBS, readTotals, saveTotals } from './totals-file.js';

/** Limits of a hub; the defaults suit a worker with a few hundred job processes. */
export interface HubServerOptions {
  /** How often job processes deliver, in ms. Default: `1000`. */
  flushMs?: number;
  /**
   * Connections open at once. A new one past it is taken in, and the connection that looks
   * least like a delivering job is closed to make room: the oldest that has not sent a delta
   * yet, else the one whose last delta is oldest. Default: `256`.
   */
  maxConnections?: number;
  /** A connection that sends no delta for this long is closed. Default: 10 × flushMs, ≥ 30 s. */
  idleTimeoutMs?: number;
  /**
   * A frame must be complete this long after its first byte, and the first frame this long
   * after the connection opened (a job sends one at once); else the connection is cut.
   * Default: `5000`.
   */
  frameTimeoutMs?: number;
  /** A stable hub saves its totals at most once per this many ms (and once more on close).
   * Default: `1000`. */
  saveIntervalMs?: number;
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

/** One peer's connection, as the hub sees it when it must choose one to close. */
interface Connection {
  /** When it last sent a valid delta; undefined until it has sent one. */
  lastDeltaAt: number | undefined;
  cut: (reason: DropReason) => void;
}

/** A stable hub's totals, in its directory, so a restarted worker continues its counters. */
const STATE_FILE = 'totals.json';
/** How long a stable hub gathers deltas before it adds, saves and acknowledges them, when it
 * has not saved within its save interval. */
const COMMIT_MS = 50;

/** Bytes of deltas a stable hub holds for its next save before it stops reading from the
 * connections that send more (until that save): at most this, plus what each connection had
 * finished reading (one read, or the unfinished frame the buffer limit bounds). */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

interface PendingDelta {
  message: DeltaMessage;
  bytes: number;
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
 * bounded: connections (a new one always gets in: see maxConnections), bytes of unfinished
 * frames per connection and in total, the time a frame may take, unread acknowledgements, idle
 * time, one job per connection, series, values (never past 2^53 − 1). What is refused is
 * counted in `dropped_samples{reason="hub_…"}` and logged once per reason.
 */
export class HubServer {
  readonly totals: SeriesStore;
  readonly address: HubAddress;
  private readonly server: Server;
  private readonly schema: ReturnType<typeof deltaMessageSchema>;
  private readonly jobs = new Map<string, JobState>();
  private readonly lastSeqByJob = new Map<string, number>();
  /** Open connections, oldest first. */
  private readonly connectionsBySocket = new Map<Socket, Connection>();
  private readonly warned = new Set<DropReason>();
  private readonly limits: Required<Omit<HubServerOptions, 'stableName'>>;
  private peak = 0;
  private buffered = 0;
  /** Where a stable hub keeps its totals; none for a hub of one process's lifetime. */
  private readonly statePath: string | undefined;
  private pending: PendingDelta[] = [];
  private pendingBytes = 0;
  /** Refusals a stable hub counts into its totals at its next save, so a scrape never shows
   * a count that a restarted worker would not continue from. */
  private readonly pendingRefusals = new Map<DropReason, number>();
  private commitTimer: ReturnType<typeof setTimeout> | undefined;
  private lastSaveAt = -Infinity;
  private stateWarned = false;

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
      frameTimeoutMs: options.frameTimeoutMs ?? 5_000,
      saveIntervalMs: options.saveIntervalMs ?? 1_000,
      maxBufferedBytes: options.maxBufferedBytes ?? 32 * 1024 * 1024,
      maxUnreadAckBytes: options.maxUnreadAckBytes ?? 64 * 1024,
      maxSeries: options.maxSeries ?? DEFAULT_MAX_SERIES,
      log: options.log ?? defaultLog,
    };
    this.totals = new SeriesStore(layout, this.limits.maxSeries);
    this.schema = deltaMessageSchema(layout);
    this.address = { v: 1, path: dir.socketPath, layout, flushMs };
    this.server = createServer((socket) => this.onConnection(socket));
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
    return this.connectionsBySocket.size;
  }

  /** Bytes of unfinished frames held across connections. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * A stable hub adds what it received to its totals, saves them and only then acknowledges
   * them, and a scrape shows only saved totals (the metrics server calls this first). So what
   * Prometheus saw, and what a job was told arrived, is what a restarted worker starts from:
   * its counters never go back, and no delta is added twice or lost. Saves are at most one per
   * save interval: a call within it leaves the deltas for the save due at its end, and a
   * scrape meanwhile shows the last saved totals.
   */
  commit(): void {
    if (!this.statePath) return;
    const wait = this.lastSaveAt + this.limits.saveIntervalMs - Date.now();
    if (wait > 0) return this.scheduleCommit(wait);
    this.commitNow();
  }

  async close(): Promise<void> {
    this.commitNow(); // what was received since the last save
    for (const socket of this.connectionsBySocket.keys()) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.dir.remove();
  }

  private scheduleCommit(waitMs: number): void {
    if (this.commitTimer) return;
    this.commitTimer = setTimeout(() => this.commitNow(), Math.max(COMMIT_MS, waitMs));
    this.commitTimer.unref();
  }

  private commitNow(): void {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    if (!this.statePath) return;
    if (this.pending.length === 0 && this.pendingRefusals.size === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const p of batch) this.apply(p.message, p.socket);
    for (const [reason, n] of this.pendingRefusals) this.countRefusal(reason, n);
    this.pendingRefusals.clear();
    this.persist();
    this.lastSaveAt = Date.now();
    for (const p of batch) {
      this.acknowledge(p.socket, p.message.seq, p.cut);
      if (!p.socket.destroyed) p.socket.resume();
    }
  }

  private refuse(reason: DropReason, detail?: string): void {
    if (this.statePath) {
      this.pendingRefusals.set(reason, (this.pendingRefusals.get(reason) ?? 0) + 1);
      this.scheduleCommit(this.lastSaveAt + this.limits.saveIntervalMs - Date.now());
    } else {
      this.countRefusal(reason, 1);
    }
    if (this.warned.has(reason)) return;
    this.warned.add(reason);
    this.limits.log(
      `worker hub refused input (${reason}${detail ? `: ${detail}` : ''}); ` +
        `counted in ${FAMILIES.dropped_samples.name}, logged once`,
    );
  }

  /** Counts refusals, short of 2^53 − 1 (a peer may have pushed the counter near it). */
  private countRefusal(reason: DropReason, n: number): void {
    const counters = { dropped_samples: [{ labels: DROPPED[reason].labels, value: n }] };
    const add = { v: 1 as const, layout: this.totals.layout, histograms: {}, counters };
    if (!this.totals.wouldOverflow(add)) this.totals.inc('dropped_samples', DROPPED[reason], n);
  }

  /** Closes the connection least like a delivering job, to make room for a new one. */
  private makeRoom(): void {
    let victim: [Socket, Connection] | undefined;
    for (const entry of this.connectionsBySocket) {
      const last = entry[1].lastDeltaAt;
      if (last === undefined) {
        victim = entry; // the oldest connection that has not sent a delta
        break;
      }
      if (!victim || last < victim[1].lastDeltaAt!) victim = entry;
    }
    if (!victim) return;
    victim[1].cut('hub_connection_limit');
    this.connectionsBySocket.delete(victim[0]);
  }

  private onConnection(socket: Socket): void {
    if (this.connectionsBySocket.size >= this.limits.maxConnections) this.makeRoom();
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
    const connection: Connection = { lastDeltaAt: undefined, cut };
    this.connectionsBySocket.set(socket, connection);
    // Until a frame is complete: the first one from the connection's start, a later one from
    // its first byte. A peer that trickles bytes cannot hold a connection longer than this.
    let frameTimer: ReturnType<typeof setTimeout> | undefined = setTimeout(
      () => cut('hub_slow_frame'),
      this.limits.frameTimeoutMs,
    );
    const idleTimer = setTimeout(() => cut('hub_idle_connection'), this.limits.idleTimeoutMs);
    let frames = 0;
    const reader = new FrameReader(
      (frame, bytes) => {
        frames += 1;
        if (socket.destroyed) return; // cut: the rest of its last chunk is not read
        try {
          const delivered = this.onFrame(frame, bytes, socket, job, cut);
          if (delivered !== undefined) {
            job = delivered;
            connection.lastDeltaAt = Date.now();
            idleTimer.refresh();
          }
        } catch {
          this.refuse('hub_invalid_frame'); // a peer's frame never takes the worker down
        }
      },
      () => cut('hub_oversize_frame'),
    );
    socket.on('data', (chunk: Buffer) => {
      frames = 0;
      reader.push(chunk);
      if (socket.destroyed) return;
      this.buffered += reader.buffered - held;
      held = reader.buffered;
      if (this.buffered > this.limits.maxBufferedBytes) {
        release();
        return cut('hub_buffer_limit');
      }
      if (frames > 0 || reader.buffered === 0) {
        clearTimeout(frameTimer);
        frameTimer = undefined;
      }
      frameTimer ??=
        reader.buffered > 0
          ? setTimeout(() => cut('hub_slow_frame'), this.limits.frameTimeoutMs)
          : undefined;
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(frameTimer);
      clearTimeout(idleTimer);
      release();
      this.connectionsBySocket.delete(socket);
      if (job !== undefined && this.jobs.get(job)?.socket === socket) this.jobs.delete(job);
    });
  }

  /**
   * Handles one frame of a connection; returns the connection's job when the frame was a
   * delta of it (valid or not in its contents), undefined when it was refused whole.
   */
  private onFrame(
    frame: unknown,
    bytes: number,
    socket: Socket,
    job: string | undefined,
    cut: (reason: DropReason) => void,
  ): string | undefined {
    const envelope = v.safeParse(DeltaEnvelopeSchema, frame, { abortEarly: true });
    if (!envelope.success) {
      this.refuse('hub_invalid_frame', describeIssue(envelope.issues));
      return undefined;
    }
    // A connection is one job process: a second job id is a peer inventing jobs.
    if (job !== undefined && envelope.output.job !== job) {
      cut('hub_extra_job');
      return undefined;
    }
    const message = v.safeParse(this.schema, frame, { abortEarly: true });
    if (!message.success) {
      // Acknowledged all the same: re-sending a malformed delta would not mend it.
      this.refuse('hub_invalid_frame', describeIssue(message.issues));
      this.acknowledge(socket, envelope.output.seq, cut);
      return envelope.output.job;
    }
    this.onDelta(message.output, bytes, socket, cut);
    return envelope.output.job;
  }

  private onDelta(
    message: DeltaMessage,
    bytes: number,
    socket: Socket,
    cut: (r: DropReason) => void,
  ): void {
    if (!this.statePath) {
      this.apply(message, socket);
      this.acknowledge(socket, message.seq, cut);
      return;
    }
    this.pending.push({ message, bytes, socket, cut });
    this.pendingBytes += bytes;
    // A job sends its next delta after the ack; a peer that sends more waits for the save.
    if (this.pendingBytes >= MAX_PENDING_BYTES) socket.pause();
    this.scheduleCommit(this.lastSaveAt + this.limits.saveIntervalMs - Date.now());
  }

  private apply(message: DeltaMessage, socket: Socket): void {
    const { job, seq } = message;
    const last = this.lastSeqByJob.get(job) ?? 0;
    if (seq > last) {
      // A value past 2^53 − 1 is no longer exact, and a saved file holding one would be refused
      // at the next start: the delta is refused instead (and not added when re-sent).
      if (this.totals.wouldOverflow(message.delta)) this.refuse('hub_value_overflow');
      else this.totals.merge(message.delta);
      this.lastSeqByJob.delete(job); // re-insert: the map's order is least recently seen first
      this.lastSeqByJob.set(job, seq);
      if (this.lastSeqByJob.size > MAX_REMEMBERED_JOBS) this.forgetOneJob();
    }
    if (socket.destroyed) return; // its job's gauge went with the connection
    this.jobs.set(job, { activeSessions: message.activeSessions, socket });
    const active = this.activeSessions;
    if (active > this.peak) this.peak = active;
  }

  /** Writes the totals and the sequence numbers seen (see totals-file.ts). */
  private persist(): void {
    if (!this.statePath) return;
    try {
      saveTotals(this.statePath, { totals: this.totals.snapshot(), seqs: [...this.lastSeqByJob] });
    } catch (error) {
      this.warnState(`cannot save the hub's totals (${(error as Error).message})`);
    }
  }

  /** Starts from the totals an earlier hub of this worker saved, when they are valid. */
  private restore(layout: BucketLayout): void {
    try {
      const saved = readTotals(this.statePath!, layout);
      if (!saved) return; // the first start
      this.totals.merge(saved.totals);
      for (const [job, seq] of saved.seqs) this.lastSeqByJob.set(job, seq);
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
