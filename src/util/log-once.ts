import type { MetricsLogger } from '../options.js';

/** Logs each distinct problem once, so a recurring failure cannot flood the agent's logs. */
export class LogOnce {
  private readonly seen = new Set<string>();

  constructor(private readonly logger: MetricsLogger) {}

  warn(key: string, obj: object, msg: string): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    try {
      this.logger.warn(obj, `${msg} (logged once)`);
    } catch {
      // a broken logger must not break the agent either
    }
  }
}
