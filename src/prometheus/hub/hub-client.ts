import { randomUUID } from 'node:crypto';
import { type Socket, createConnection } from 'node:net';
import type { SeriesStore } from '../series-store.js';
import { seriesKey } from '../series-store.js';
import { type AckMessage, type DeltaMessage, FrameReader, type HubAddress } from './protocol.js';

/** What the client needs from the process exporter. */
export interface DeltaSource {
  takeDelta(): SeriesStore;
  readonly activeSessions: number;
}

/** Sockets that buffer more than this are not written to until they drain. */
const MAX_UNSENT_BYTES = 1024 * 1024;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;
const NO_LABELS = seriesKey({});

/**
 * Runs in a job process: delivers what the process recorded to the worker's hub. One delta is
 * in flight at a time and is re-sent, with the same sequence number, until acknowledged; what
 * is recorded meanwhile accumulates in the process store. Both are aggregates, so memory stays
 * bounded by the number of series however long the hub is away, and nothing is counted twice.
 * Never throws: a lost hub is counted and retried with backoff.
 */
export class HubClient {
  private readonly job = randomUUID();
  private socket: Socket | undefined;
  private connected = false;
  private inflight: DeltaMessage | undefined;
  /** Whether the in-flight delta reached the socket (it is not while the socket is backed up). */
  private inflightWritten = false;
  private seq = 0;
  private backoffMs = RECONNECT_MIN_MS;
  private readonly timer: ReturnType<typeof setInterval>;
  private flushScheduled = false;
  private closed = false;
  /** Lost connections, reported with the next delta. */
  private disconnects = 0;

  constructor(
    private readonly address: HubAddress,
    private readonly source: DeltaSource,
  ) {
    this.timer = setInterval(() => this.flush(), address.flushMs);
    this.timer.unref();
    this.connect();
  }

  /** Delivers pending samples on the next tick (e.g. a session closed). */
  flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Delivers what is pending and waits for the hub's acknowledgement, for at most `timeoutMs`:
   * a job about to exit calls this so its last turns are counted.
   */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.flush();
    while (Date.now() < deadline && this.connected && this.inflight) {
      await new Promise((r) => setTimeout(r, 10));
      if (!this.inflight) this.flush(); // what was recorded meanwhile goes too
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.socket?.destroy();
  }

  private connect(): void {
    if (this.closed) return;
    const socket = createConnection(this.address.path);
    this.socket = socket;
    socket.unref(); // metrics delivery never keeps a job process alive
    socket.setEncoding('utf8');
    const reader = new FrameReader(
      (frame) => this.onFrame(frame),
      () => socket.destroy(),
    );
    socket.on('connect', () => {
      this.connected = true;
      this.backoffMs = RECONNECT_MIN_MS;
      this.inflightWritten = false; // re-send what was in flight: the hub dedupes by seq
      this.flush();
    });
    socket.on('data', (chunk: string) => reader.push(chunk));
    socket.on('error', () => {
      /* handled on close */
    });
    socket.on('close', () => {
      if (this.connected) this.disconnects += 1;
      this.connected = false;
      if (this.closed) return;
      const wait = this.backoffMs;
      this.backoffMs = Math.min(RECONNECT_MAX_MS, this.backoffMs * 2);
      setTimeout(() => this.connect(), wait).unref();
    });
  }

  private onFrame(frame: unknown): void {
    const ack = frame as Partial<AckMessage>;
    if (ack?.v !== 1 || ack.type !== 'lkam:ack' || typeof ack.seq !== 'number') return;
    if (this.inflight && ack.seq === this.inflight.seq) {
      this.inflight = undefined;
      this.flushSoon(); // what accumulated while waiting goes out now
    }
  }

  private flush(): void {
    try {
      if (!this.connected) return;
      if (this.inflight) {
        if (!this.inflightWritten) this.write(this.inflight);
        return;
      }
      const delta = this.source.takeDelta();
      if (this.disconnects > 0) {
        delta.inc('hub_disconnects', NO_LABELS, this.disconnects);
        this.disconnects = 0;
      }
      this.seq += 1;
      this.inflight = {
        v: 1,
        type: 'lkam:delta',
        job: this.job,
        pid: process.pid,
        seq: this.seq,
        activeSessions: this.source.activeSessions,
        delta: delta.snapshot(),
      };
      this.inflightWritten = false;
      this.write(this.inflight);
    } catch {
      // delivery is best effort; the next interval tries again
    }
  }

  private write(message: DeltaMessage): void {
    const socket = this.socket;
    if (!socket || !this.connected || socket.writableLength > MAX_UNSENT_BYTES) return;
    socket.write(`${JSON.stringify(message)}\n`);
    this.inflightWritten = true;
  }
}
