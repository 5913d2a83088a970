/** Small helpers the session tests share: waiting for a turn, and shadowing a framework field. */
import type { SessionMetrics, TurnTimeline } from '../../src/index.js';

/** The next turn `metrics` completes, or a rejection after `timeoutMs`. */
export function nextTurn(metrics: SessionMetrics, timeoutMs = 15_000): Promise<TurnTimeline> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no turn within timeout')), timeoutMs);
    const onTurn = (turn: TurnTimeline) => {
      clearTimeout(timer);
      metrics.off('turn', onTurn);
      resolve(turn);
    };
    metrics.on('turn', onTurn);
  });
}

/** Defines an own property on `object` while `fn` runs (shadowing its class's), then removes it. */
export function shadow(
  object: object,
  key: string,
  descriptor: PropertyDescriptor,
  fn: () => void,
): void {
  Object.defineProperty(object, key, { configurable: true, ...descriptor });
  try {
    fn();
  } finally {
    Reflect.deleteProperty(object, key);
  }
}
