/**
 * One render shared by the scrapes that ask for it. Every scrape rendering anew let 50 scrapers
 * hold the worker's main process at 77 % CPU with event-loop stalls of 1.2 s; shared, a burst
 * of scrapes costs one render per format and interval.
 */

interface Entry<T> {
  /** When the render began (and read the series), on the injected clock. */
  at: number;
  pending: boolean;
  result: Promise<T>;
}

/**
 * Single flight with a staleness bound: a scrape joins the render of its key (its format) in
 * flight, or reuses the last one if that began at most `reuseMs` before the scrape arrived;
 * otherwise it renders anew. A failed render is never reused. So an answer shows the series as
 * they were at most `reuseMs` (plus the time a render in flight takes) before its scrape.
 */
export class SharedRender<T> {
  private readonly last = new Map<string, Entry<T>>();

  constructor(
    private readonly reuseMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get(key: string, render: () => Promise<T>): Promise<T> {
    const at = this.now();
    const last = this.last.get(key);
    if (last && (last.pending || at - last.at <= this.reuseMs)) return last.result;
    // `render` runs now (a throw becomes the rejection), so what it reads is as of `at`
    const entry: Entry<T> = { at, pending: true, result: (async () => render())() };
    this.last.set(key, entry);
    entry.result.then(
      () => (entry.pending = false),
      () => {
        entry.pending = false;
        if (this.last.get(key) === entry) this.last.delete(key);
      },
    );
    return entry.result;
  }
}
