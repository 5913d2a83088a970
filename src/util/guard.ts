import type { GuardReason, GuardSource } from '../catalog/guard-sources.js';
import type { MetricsLogger } from '../options.js';

export type { GuardReason, GuardSource };

/** One contained failure, as the guard reports it to its owner (who counts it). */
export interface ContainedFailure {
  source: GuardSource;
  reason: GuardReason;
  /** Where in the plugin, e.g. `sink:sample` or `otel:histogram`: for the log, never a label. */
  where: string;
}

/**
 * The one way the plugin calls what is not its own: a user's sink or listener, the logger, an
 * OpenTelemetry meter, the room, the framework. A synchronous throw and a returned promise that
 * rejects are both caught, reported to `onFailure` (which counts them) and logged once per
 * `where` and reason; nothing reaches the agent.
 */
export class Guard {
  private readonly logged = new Set<string>();
  private onFailure: (failure: ContainedFailure) => void = () => {};

  constructor(private readonly logger: MetricsLogger) {}

  /** Who counts the failures. Set once its owner is built; failures before that are logged. */
  reportTo(onFailure: (failure: ContainedFailure) => void): void {
    this.onFailure = onFailure;
  }

  /**
   * Calls `fn`; its value, or `undefined` when it threw. A returned thenable is watched: a
   * rejection is contained like a throw (the thenable itself is returned as it is).
   */
  call<T>(source: GuardSource, where: string, fn: () => T): T | undefined {
    let result: T;
    try {
      result = fn();
    } catch (error) {
      this.fail({ source, reason: 'threw', where }, error);
      return undefined;
    }
    this.watch(source, where, result);
    return result;
  }

  /** Calls `fn` for its effect; `false` when it threw synchronously. */
  run(source: GuardSource, where: string, fn: () => unknown): boolean {
    let ok = true;
    this.call(source, where, () => {
      try {
        return fn();
      } catch (error) {
        ok = false;
        throw error;
      }
    });
    return ok;
  }

  /**
   * Contains a rejection of `value` if it is a thenable (a plain value passes untouched): it is
   * counted as a failure of `source`, or handed to `onRejected` when the caller counts it its own
   * way (e.g. a message the room failed to send).
   */
  watch(
    source: GuardSource,
    where: string,
    value: unknown,
    onRejected: (error: unknown) => void = (error) =>
      this.fail({ source, reason: 'rejected', where }, error),
  ): void {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return;
    try {
      if (typeof (value as { then?: unknown }).then !== 'function') return;
      // Promise.resolve adopts any thenable; a `then` that throws becomes a rejection too.
      Promise.resolve(value as PromiseLike<unknown>).then(undefined, (error: unknown) =>
        this.run('plugin', `${where}:rejected`, () => onRejected(error)),
      );
    } catch (error) {
      // a `then` getter that throws
      this.run('plugin', `${where}:rejected`, () => onRejected(error));
    }
  }

  /** Reports a failure the caller caught itself (e.g. an error event of a stream). */
  fail(failure: ContainedFailure, error: unknown): void {
    try {
      this.onFailure(failure);
    } catch {
      // the owner's counting is ours and does not throw; if it ever did, the agent goes on
    }
    this.warnOnce(
      `${failure.source}:${failure.where}:${failure.reason}`,
      {
        source: failure.source,
        where: failure.where,
        reason: failure.reason,
        error: describe(error),
      },
      failure.source === 'plugin'
        ? 'metrics handling failed; the agent is unaffected'
        : `a ${failure.source} called by the metrics plugin ${failure.reason === 'threw' ? 'threw' : 'rejected'}; the agent is unaffected`,
    );
  }

  /** Logs each distinct `key` once, so a recurring failure cannot flood the agent's logs. */
  warnOnce(key: string, obj: object, msg: string): void {
    if (this.logged.has(key)) return;
    // bounded: past this many distinct keys, further problems are counted but not logged
    if (this.logged.size >= MAX_LOGGED_KEYS) return;
    this.logged.add(key);
    let result: unknown;
    try {
      result = this.logger.warn(obj, `${msg} (logged once)`);
    } catch (error) {
      this.loggerFailed('threw', error);
      return;
    }
    this.watch('logger', 'logger:warn', result, (error) => this.loggerFailed('rejected', error));
  }

  /** A failing logger is counted, never logged (through itself). */
  private loggerFailed(reason: GuardReason, _error: unknown): void {
    try {
      this.onFailure({ source: 'logger', reason, where: 'logger:warn' });
    } catch {
      // see fail()
    }
  }
}

/** Distinct problems logged by one guard at the most; each is logged once. */
const MAX_LOGGED_KEYS = 256;

/** A thrown value as text. Never throws itself: a hostile error's getters and conversions may. */
function describe(error: unknown): string {
  try {
    if (error instanceof Error)
      return `${String(error.name)}: ${String(error.message)}`.slice(0, 500);
    return String(error).slice(0, 500);
  } catch {
    try {
      return Object.prototype.toString.call(error);
    } catch {
      return 'unprintable error';
    }
  }
}
