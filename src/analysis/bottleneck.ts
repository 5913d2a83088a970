import type { BottleneckComponent, StatName, Stats } from '../types.js';

/** The series that stands for each component's latency, as in the spec's analyze_bottlenecks. */
export const BOTTLENECK_SERIES: Readonly<Record<BottleneckComponent, StatName>> = {
  stt: 'stt_latency',
  llm: 'ttft',
  tts: 'tts_latency',
};

/** The component with the highest p90 latency, or undefined while none has data. */
export function findBottleneck(
  statsOf: (name: StatName) => Stats,
): BottleneckComponent | undefined {
  let worst: BottleneckComponent | undefined;
  let worstP90 = -Infinity;
  for (const [component, series] of Object.entries(BOTTLENECK_SERIES)) {
    const p90 = statsOf(series).p90;
    if (p90 !== null && p90 > worstP90) {
      worst = component as BottleneckComponent;
      worstP90 = p90;
    }
  }
  return worst;
}
