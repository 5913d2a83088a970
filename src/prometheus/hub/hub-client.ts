import { randomUUID } from 'node:crypto';
import { type Socket, createConnection } from 'node:net';
import * as v from 'valibot';
import { FAMILIES, type FamilyKey } from '../metric-families.js';
import {
  DROPPED,
  type HistogramSeries,
  type ScalarSeries,
  type SeriesStore,
  type StoreSnapshot,
  seriesKey,
} from '../series-store.js';
import { FrameReader } from './frame-reader.js';
import { AckSchema, HUB_LIMITS, type HubAddress, seriesSchema } from './protocol.js';

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
/** A delta message as the client builds it (the hub's schema checks the same shape). */
interface OutgoingDelta {
  v: 1;
  type: 'lkam:delta';
  job: string;
  pid: number;
  seq: number;
  activeSessions: number;
  delta: StoreSnapshot;
}
/** Frames are kept this far under the hub's limit (the envelope and JSON framing). */
const FRAME_BUDGET = HUB_LIMITS.maxFrameBytes - 4 * 1024;

/**
 * Runs in a job process: delivers what the process recorded to the worker's hub. One delta is
 * in flight at a time and is re-sent, with the same sequence number, until acknowledged,
 * however many connections are refused or cut on the way: it is never given up. What is
 * recorded meanwhile accumulates in the process store. Both are aggregates, so what waits is
 * bounded by the series cap however long the hub is away: the delta taken (its frames in
 * flight and queued) and the store, each at most DEFAULT_MAX_SERIES series plus the health
 * counters; a new series past the store's cap is dropped and counted in
 * `dropped_samples{reason="series_limit"}`, delivered with the next delta. Nothing is counted
 * twice. Never throws: a lost hub is counted and retried with backoff.
 */
export class HubClient {
  private readonly job = randomUUID();
  private socket: Socket | undefined;
  private connected = false;
  private inflight: string | undefined;
  private inflightSeq = 0;
  /** Frames of a delta too big for one frame, waiting for the one in flight. */
  private readonly queued: StoreSnapshot[] = [];
  /** Whether the in-flight delta reached the socket (it is not while the socket is backed up). */
  private inflightWritten = false;
  private seq = 0;
  private backoffMs = RECONNECT_MIN_MS;
  private readonly timer: ReturnType<typeof setInterval>;
  private flushScheduled = false;
  /** A delivery was asked for while a delta was in flight: it goes once that one is acknowledged. */
  private flushWanted = false;
  private closed = false;
  /** Lost connections, reported with the next delta. */
  private disconnects = 0;

  /** Whether a dropped delta or series was logged (once per client). */
  private warned = false;

  constructor(
    private readonly address: HubAddress,
    private readonly source: DeltaSource,
    private readonly log: (message: string) => void = (m) =>
      console.warn(`[livekit-agents-metrics] ${m}`),
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
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
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
    const ack = v.safeParse(AckSchema, frame);
    if (!ack.success) return;
    if (this.inflight && ack.output.seq === this.inflightSeq) {
      this.inflight = undefined;
      // The rest of a split delta goes now, and so does a delivery asked for meanwhile; what a
      // busy job records otherwise waits for the next interval: one delta per interval, not one
      // per round trip (each costs a validation and a serialization of the delta).
      if (this.queued.length > 0 || this.flushWanted) {
        this.flushWanted = false;
        this.flushSoon();
      }
    }
  }

  private warnOnce(what: string): void {
    if (this.warned) return;
    this.warned = true;
    this.log(
      `${what} and was dropped; counted in ` +
        `${FAMILIES.dropped_samples.name}{reason="hub_undeliverable"}, logged once`,
    );
  }

  private flush(): void {
    try {
      if (!this.connected) return;
      if (this.inflight) {
        this.flushWanted = true;
        if (!this.inflightWritten) this.write();
        return;
      }
      let delta = this.queued.shift();
      if (!delta) {
        const store = this.source.takeDelta();
        if (this.disconnects > 0) {
          store.inc('hub_disconnects', NO_LABELS, this.disconnects);
          this.disconnects = 0;
        }
        const frames = this.split(this.deliverable(store.snapshot()));
        delta = frames.shift()!;
        this.queued.push(...frames);
      }
      this.seq += 1;
      this.inflightSeq = this.seq;
      const message: OutgoingDelta = {
        v: 1,
        type: 'lkam:delta',
        job: this.job,
        pid: process.pid,
        seq: this.seq,
        activeSessions: Math.min(HUB_LIMITS.maxSessionsPerJob, this.source.activeSessions),
        delta,
      };
      this.inflight = `${JSON.stringify(message)}\n`;
      this.inflightWritten = false;
      this.write();
    } catch {
      // delivery is best effort; the next interval tries again
    }
  }

  /**
   * The snapshot as the hub accepts it: label values cut as the hub would cut them, and any
   * series the hub's schema would refuse (which would make it refuse the whole frame) dropped
   * and counted.
   */
  private deliverable(snapshot: StoreSnapshot): StoreSnapshot {
    const out: StoreSnapshot = { v: 1, layout: snapshot.layout, histograms: {}, counters: {} };
    let dropped = 0;
    for (const kind of ['histograms', 'counters'] as const) {
      for (const [family, list] of Object.entries(snapshot[kind]) as [
        FamilyKey,
        Array<HistogramSeries | ScalarSeries>,
      ][]) {
        const schema = seriesSchema(kind, family, snapshot.layout);
        const kept: Array<HistogramSeries | ScalarSeries> = [];
        for (const series of list) {
          const checked = schema && v.safeParse(schema, series);
          if (checked?.success) kept.push(checked.output);
          else dropped += 1;
        }
        if (kept.length > 0) (out[kind] as Record<string, unknown>)[family] = kept;
      }
    }
    if (dropped > 0) this.countUndeliverable(out, dropped);
    return out;
  }

  /**
   * One snapshot per frame: the snapshot itself when it fits (the usual case), else its series
   * spread over as many as needed. A series that fits no frame alone is dropped and counted.
   */
  private split(snapshot: StoreSnapshot): StoreSnapshot[] {
    if (Buffer.byteLength(JSON.stringify(snapshot)) <= FRAME_BUDGET) return [snapshot];
    const fresh = (): StoreSnapshot => ({
      v: 1,
      layout: snapshot.layout,
      histograms: {},
      counters: {},
    });
    const frames: StoreSnapshot[] = [fresh()];
    const base = Buffer.byteLength(JSON.stringify(fresh()));
    let size = base;
    let dropped = 0;
    for (const kind of ['histograms', 'counters'] as const) {
      for (const [family, list] of Object.entries(snapshot[kind]) as [FamilyKey, unknown[]][]) {
        for (const series of list) {
          const bytes = Buffer.byteLength(JSON.stringify(series)) + family.length + 8;
          if (base + bytes > FRAME_BUDGET) {
            dropped += 1;
            continue;
          }
          if (size + bytes > FRAME_BUDGET) {
            frames.push(fresh());
            size = base;
          }
          const target = frames.at(-1)![kind] as Record<string, unknown[]>;
          (target[family] ??= []).push(series);
          size += bytes;
        }
      }
    }
    if (dropped > 0) this.countUndeliverable(frames[0]!, dropped);
    return frames;
  }

  private countUndeliverable(snapshot: StoreSnapshot, dropped: number): void {
    this.warnOnce('a series could not be sent to the worker hub (invalid, or too big for a frame)');
    const list = (snapshot.counters.dropped_samples ??= []);
    const existing = list.find(
      (c) => c.labels.reason === 'hub_undeliverable' && Object.keys(c.labels).length === 1,
    );
    if (existing) existing.value += dropped;
    else list.push({ labels: DROPPED.hub_undeliverable.labels, value: dropped });
  }

  private write(): void {
    const socket = this.socket;
    if (!socket || !this.connected || !this.inflight) return;
    if (socket.writableLength > MAX_UNSENT_BYTES) return;
    socket.write(this.inflight);
    this.inflightWritten = true;
  }
}
