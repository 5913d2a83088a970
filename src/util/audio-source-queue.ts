/**
 * What an rtc-node `AudioSource` holds queued, by its own account, ms: a frame handed to it now
 * starts leaving that much later. A source made with a queue size of 0 hands each frame straight
 * to the encoder (rtc-node's fast path), so 0; a queued one is drained 10 ms at a time, and
 * rtc-node keeps `queuedDuration` (assuming it drains in real time). `undefined` when the source
 * has no such account or it cannot be read.
 */
export function queuedInSource(source: unknown): number | undefined {
  try {
    const s = source as { queueSize?: unknown; queuedDuration?: unknown } | null | undefined;
    if (s?.queueSize === 0) return 0;
    const queued = s?.queuedDuration;
    return typeof queued === 'number' && Number.isFinite(queued) && queued >= 0
      ? queued
      : undefined;
  } catch {
    return undefined;
  }
}
