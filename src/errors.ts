/** One invalid option: its path and what to change. */
export interface ConfigProblem {
  /** Path of the offending option, e.g. `alerts.ttft.warning`. */
  option: string;
  message: string;
}

/**
 * Thrown by `attachMetrics`, `startMetricsServer` and the other entry points when options are
 * invalid: every problem found, at once (`problems`), each naming the option and saying what to
 * change. Never thrown once metrics are attached.
 */
export class MetricsConfigError extends Error {
  override readonly name = 'MetricsConfigError';
  /** Path of the first offending option. */
  readonly option: string;
  /** Every problem found, in the order the options were checked. */
  readonly problems: readonly ConfigProblem[];

  constructor(option: string, message: string, more: readonly ConfigProblem[] = []) {
    const problems = [{ option, message }, ...more];
    super(
      problems.length === 1
        ? `livekit-agents-metrics: invalid option \`${option}\`: ${message}`
        : `livekit-agents-metrics: ${problems.length} invalid options:\n` +
            problems.map((p) => `  - \`${p.option}\`: ${p.message}`).join('\n'),
    );
    this.option = option;
    this.problems = problems;
  }
}

/** Checks several options and reports every problem at once. */
export class ConfigCheck {
  private readonly problems: ConfigProblem[] = [];

  /** The value `resolve` gives, or `fallback` when it throws a MetricsConfigError (recorded). */
  take<T>(resolve: () => T, fallback: T): T {
    try {
      return resolve();
    } catch (error) {
      if (!(error instanceof MetricsConfigError)) throw error;
      this.problems.push(...error.problems);
      return fallback;
    }
  }

  /** Throws one MetricsConfigError listing every problem recorded, if any. */
  done(): void {
    const [first, ...more] = this.problems;
    if (first) throw new MetricsConfigError(first.option, first.message, more);
  }
}
