import { closeSync, fstatSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import * as v from 'valibot';
import type { BucketLayout } from '../metric-families.js';
import type { StoreSnapshot } from '../series-store.js';
import { describeIssue, snapshotSchema } from './protocol.js';

/**
 * A stable hub's totals on disk (`totals.json` in its private directory), so a restarted worker
 * continues its counters. What is written passes the schema it is read back with: the hub never
 * adds a value past 2^53 − 1 (see SeriesStore.wouldOverflow), so a saved file is never refused.
 */

/** Sequence numbers remembered per job, so a re-sent delta is never added twice. */
export const MAX_REMEMBERED_JOBS = 10_000;
/** A file larger than this is not read: 5000 series of 64 buckets with exemplars and 32 labels
 * of 128 characters stay well under it. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

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

export interface SavedTotals {
  totals: StoreSnapshot;
  seqs: Array<[job: string, seq: number]>;
}

/** Writes the totals and the sequence numbers seen, replacing the file in one rename. */
export function saveTotals(path: string, saved: SavedTotals): void {
  const state = { v: 1, type: 'lkam:hub-state', ...saved };
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(state), { mode: 0o600 });
  renameSync(temporary, path);
}

/**
 * The totals an earlier hub saved at `path`; undefined when there is no file (the first start).
 * Throws, saying why, when the file is too big or does not pass the schema.
 */
export function readTotals(path: string, layout: BucketLayout): SavedTotals | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  let text: string;
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_FILE_BYTES) throw new Error(`${size} bytes, over ${MAX_FILE_BYTES}`);
    const buffer = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, buffer, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    text = buffer.toString('utf8', 0, read);
  } finally {
    closeSync(fd);
  }
  const state = v.safeParse(HubStateSchema(layout), JSON.parse(text));
  if (!state.success) throw new Error(describeIssue(state.issues));
  return { totals: state.output.totals as StoreSnapshot, seqs: state.output.seqs };
}
