/**
 * The generator's own health during a step: its event loop's delay and its CPU, and the whole
 * machine's CPU. A generator that lags stamps frames late, so its heard latencies grow with its
 * own load, not the agent's.
 */
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface GeneratorHealth {
  eventLoopLagP99Ms: number;
  cpuPercent: number;
  machineCpuPercent: number;
}

/** Event-loop delay p99 above this, or a process CPU above this % of one core, marks a step
 * as limited by the generator. */
export const GENERATOR_LAG_LIMIT_MS = 50;
export const GENERATOR_CPU_LIMIT_PERCENT = 85;

function machineTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

export class GeneratorMonitor {
  private readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly cpu = process.cpuUsage();
  private readonly wall = performance.now();
  private readonly machine = machineTimes();

  constructor() {
    this.histogram.enable();
  }

  stop(): GeneratorHealth {
    this.histogram.disable();
    const used = process.cpuUsage(this.cpu);
    const wallMs = Math.max(1, performance.now() - this.wall);
    const m = machineTimes();
    const total = m.total - this.machine.total;
    const busy = total - (m.idle - this.machine.idle);
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      // the histogram is in ns and includes the resolution's own 10 ms
      eventLoopLagP99Ms: round(Math.max(0, this.histogram.percentile(99) / 1e6 - 10)),
      cpuPercent: round(((used.user + used.system) / 1000 / wallMs) * 100),
      machineCpuPercent: round(total > 0 ? (busy / total) * 100 : 0),
    };
  }
}
