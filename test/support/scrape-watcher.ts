import {
  type ExpositionSample,
  isCumulative,
  parseExposition,
  seriesId,
} from './exposition-parser.js';

/**
 * Scrapes a /metrics endpoint in the background, as Prometheus would but much more often, and
 * records every time a counter, histogram bucket, count or sum went down between two scrapes
 * (or a series disappeared): a cumulative series must never do either while the endpoint's
 * process lives, whatever its job processes do.
 */
export class ScrapeWatcher {
  scrapes = 0;
  readonly violations: string[] = [];
  private readonly last = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Scrapes run one at a time, so their renders are checked in the order they happened. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly intervalMs = 25,
  ) {}

  start(): this {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.scrape()
        .then(() => undefined)
        .catch((error: unknown) => {
          const cause = (error as { cause?: unknown }).cause;
          this.violations.push(
            `scrape failed: ${String(error)}${cause ? ` (${String(cause)})` : ''}`,
          );
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
    return this;
  }

  /** One scrape now, checked like the background ones; returns its samples. */
  scrape(): Promise<ExpositionSample[]> {
    const next = this.chain.then(async () => {
      const res = await fetch(this.url);
      if (res.status !== 200) throw new Error(`GET ${this.url}: ${res.status}`);
      const samples = parseExposition(await res.text());
      this.check(samples);
      return samples;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private check(samples: ExpositionSample[]): void {
    this.scrapes += 1;
    const seen = new Set<string>();
    for (const s of samples) {
      if (!isCumulative(s.name)) continue;
      const id = seriesId(s);
      seen.add(id);
      const before = this.last.get(id);
      if (before !== undefined && s.value < before) {
        this.violations.push(`${id} went down from ${before} to ${s.value}`);
      }
      this.last.set(id, s.value);
    }
    for (const id of this.last.keys()) {
      if (!seen.has(id)) this.violations.push(`${id} disappeared`);
    }
  }
}
