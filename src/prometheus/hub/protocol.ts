import { type BucketLayout, FAMILIES } from '../metric-families.js';
import { type StoreSnapshot, sameLayout } from '../series-store.js';

/** Environment variable through which a worker's main process tells its job processes where the
 * hub is (the framework forks job processes with the parent's environment). */
export const HUB_ENV = 'LIVEKIT_AGENTS_METRICS_HUB';

/** What the env variable holds. */
export interface HubAddress {
  v: 1;
  /** Unix socket path of the hub. */
  path: string;
  /** Bucket layout every process must use, so their histograms can be summed. */
  layout: BucketLayout;
  /** How often a job process sends what it recorded. */
  flushMs: number;
}

/**
 * Job → hub. `delta` holds what the job recorded since its previous acknowledged message, so
 * the hub adds it once: a delta re-sent after a reconnect carries the same `seq` and is
 * acknowledged again without being added again.
 */
export interface DeltaMessage {
  v: 1;
  type: 'lkam:delta';
  job: string;
  pid: number;
  seq: number;
  activeSessions: number;
  delta: StoreSnapshot;
  /** The job is done; the hub forgets its gauges without counting a lost connection. */
  final?: boolean;
}

/** Hub → job. */
export interface AckMessage {
  v: 1;
  type: 'lkam:ack';
  seq: number;
}

/** Newline-delimited JSON frames larger than this are refused (a corrupt or hostile peer). */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

export function parseHubAddress(raw: string | undefined): HubAddress | undefined {
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<HubAddress>;
    if (parsed.v !== 1 || typeof parsed.path !== 'string' || !parsed.layout) return undefined;
    return {
      v: 1,
      path: parsed.path,
      layout: parsed.layout,
      flushMs: typeof parsed.flushMs === 'number' && parsed.flushMs > 0 ? parsed.flushMs : 1000,
    };
  } catch {
    return undefined;
  }
}

export function isDeltaMessage(m: unknown): m is DeltaMessage {
  if (typeof m !== 'object' || m === null) return false;
  const d = m as Partial<DeltaMessage>;
  return (
    d.v === 1 &&
    d.type === 'lkam:delta' &&
    typeof d.job === 'string' &&
    typeof d.seq === 'number' &&
    typeof d.activeSessions === 'number' &&
    typeof d.delta === 'object' &&
    d.delta !== null &&
    d.delta.v === 1
  );
}

/** Splits a byte stream into newline-delimited JSON frames. */
export class FrameReader {
  private buffer = '';
  constructor(
    private readonly onFrame: (frame: unknown) => void,
    private readonly onOversize: () => void,
  ) {}

  push(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (line.length === 0) continue;
      let frame: unknown;
      try {
        frame = JSON.parse(line);
      } catch {
        frame = undefined; // a garbled frame is refused (and counted) as one; the next is read
      }
      this.onFrame(frame);
    }
    if (this.buffer.length > MAX_FRAME_BYTES) {
      this.buffer = '';
      this.onOversize();
    }
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isLabels = (v: unknown) =>
  isObject(v) && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
const isBounds = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number');

/**
 * Whether a delta's contents can be added as they are: the worker's bucket layout, known
 * families of the right type, string labels, and finite non-negative counts. One malformed
 * delta must not corrupt a total for good, nor crash the worker's main process.
 */
export function isValidSnapshot(snapshot: StoreSnapshot, layout: BucketLayout): boolean {
  const l = snapshot.layout as Partial<BucketLayout> | undefined;
  if (!isObject(l) || !isBounds(l.latency) || !isBounds(l.throughput)) return false;
  if (!sameLayout(l as BucketLayout, layout)) return false;
  if (!isObject(snapshot.histograms) || !isObject(snapshot.counters)) return false;
  for (const [family, list] of Object.entries(snapshot.histograms)) {
    const def = FAMILIES[family as keyof typeof FAMILIES];
    if (!def || def.type !== 'histogram' || !Array.isArray(list)) return false;
    const buckets =
      ('buckets' in def && def.buckets === 'throughput' ? layout.throughput : layout.latency)
        .length + 1;
    for (const h of list as unknown[]) {
      if (!isObject(h) || !isLabels(h.labels) || !isCount(h.count) || typeof h.sum !== 'number')
        return false;
      if (!Number.isFinite(h.sum) || !Array.isArray(h.counts) || h.counts.length !== buckets)
        return false;
      if (!h.counts.every(isCount)) return false;
      if (h.exemplars !== undefined) {
        if (!Array.isArray(h.exemplars) || h.exemplars.length !== buckets) return false;
        for (const e of h.exemplars as unknown[]) {
          if (e === null) continue;
          if (
            !isObject(e) ||
            typeof e.traceId !== 'string' ||
            typeof e.value !== 'number' ||
            typeof e.at !== 'number'
          ) {
            return false;
          }
        }
      }
    }
  }
  for (const [family, list] of Object.entries(snapshot.counters)) {
    const def = FAMILIES[family as keyof typeof FAMILIES];
    if (!def || def.type !== 'counter' || !Array.isArray(list)) return false;
    for (const c of list as unknown[]) {
      if (!isObject(c) || !isLabels(c.labels) || !isCount(c.value)) return false;
    }
  }
  return true;
}
