import { BOTTLENECK_STATS, type BottleneckComponent, type StatName } from '../catalog/index.js';
import type { Stats } from '../types.js';

/** The component with the highest p90 latency (of the catalog's bottleneck stats: the spec's
 * analyze_bottlenecks), or undefined while none has data. */
export function findBottleneck(
  statsOf: (name: StatName) => Stats,
): BottleneckComponent | undefined {
  let worst: BottleneckComponent | undefined;
  let worstP90 = -Infinity;
  for (const [component, series] of Object.entries(BOTTLENECK_STATS)) {
    const p90 = statsOf(series).p90;
    if (p90 !== null && p90 > worstP90) {
      worst = component as BottleneckComponent;
      worstP90 = p90;
    }
  }
  return worst;
}
