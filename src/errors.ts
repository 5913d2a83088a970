/** One invalid option: its path and what to change. */
export interface ConfigProblem {
  /** Path of the offending option, e.g. `alerts.ttft.warning`. */
  option: string;
  message: string;
}

/** Problems a MetricsConfigError lists and keeps in `problems`; the rest are only counted. */
export const MAX_LISTED_PROBLEMS = 20;
/** Longest option path and message kept per problem (a path can carry a key of the input). */
const MAX_OPTION_TEXT = 120;
const MAX_MESSAGE_TEXT = 300;
// Controls, format characters and line separators would break the one-line-per-problem list or
// drive a terminal (a key can come from a JSON file the CLI read).
// eslint-disable-next-line no-control-regex -- removing control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** `text` on one line, at most `max` UTF-16 units, its end marked when cut. */
function clip(text: string, max: number): string {
  const cut = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return cut.replace(UNPRINTABLE, '?');
}

/** Marks a MetricsConfigError of any copy of this package: the registry-wide symbol is the same
 * in the ESM and CommonJS builds of every entry point and in the overlay's own bundle. */
const CONFIG_ERROR = Symbol.for('livekit-agents-metrics.MetricsConfigError');

/**
 * Thrown by `attachMetrics`, `startMetricsServer` and the other entry points when options are
 * invalid: the problems found, at once (`problems`, the first 20; `problemCount`, all of them),
 * each naming the option and saying what to change. Never thrown once metrics are attached.
 *
 * `error instanceof MetricsConfigError` holds whichever entry point or build (ESM, CommonJS)
 * threw it and whichever the class was imported from: each bundle has its own copy of the class,
 * so `instanceof` checks a brand, not the prototype chain.
 */
export class MetricsConfigError extends Error {
  /** Whether `value` is a MetricsConfigError from any build of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // A subclass keeps the ordinary check: its instances are the ones its constructor made.
    if (this !== MetricsConfigError)
      return Function.prototype[Symbol.hasInstance].call(this, value);
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as { [CONFIG_ERROR]?: unknown })[CONFIG_ERROR] === true
    );
  }

  override readonly name = 'MetricsConfigError';
  /** Path of the first offending option. */
  readonly option: string;
  /** The problems found, in the order the options were checked: the first 20 at most. */
  readonly problems: readonly ConfigProblem[];
  /** How many problems were found, listed or not. */
  readonly problemCount: number;

  /** `unlisted`: problems found besides these, counted but not kept. */
  constructor(option: string, message: string, more: readonly ConfigProblem[] = [], unlisted = 0) {
    const problems = [{ option, message }, ...more.slice(0, MAX_LISTED_PROBLEMS - 1)].map((p) => ({
      option: clip(p.option, MAX_OPTION_TEXT),
      message: clip(p.message, MAX_MESSAGE_TEXT),
    }));
    const count = 1 + more.length + unlisted;
    const left = count - problems.length;
    super(
      count === 1
        ? `livekit-agents-metrics: invalid option \`${problems[0]!.option}\`: ${problems[0]!.message}`
        : `livekit-agents-metrics: ${count} invalid options:\n` +
            problems.map((p) => `  - \`${p.option}\`: ${p.message}`).join('\n') +
            (left > 0 ? `\n  … and ${left} more` : ''),
    );
    this.option = problems[0]!.option;
    this.problems = problems;
    this.problemCount = count;
    Object.defineProperty(this, CONFIG_ERROR, { value: true });
  }
}

/** Checks several options and reports every problem at once (the first 20 listed). */
export class ConfigCheck {
  private readonly problems: ConfigProblem[] = [];
  private unlisted = 0;

  /** The value `resolve` gives, or `fallback` when it throws a MetricsConfigError (recorded). */
  take<T>(resolve: () => T, fallback: T): T {
    try {
      return resolve();
    } catch (error) {
      if (!(error instanceof MetricsConfigError)) throw error;
      for (const p of error.problems) this.problem(p.option, p.message);
      this.unlisted += error.problemCount - error.problems.length;
      return fallback;
    }
  }

  /** Records one problem. */
  problem(option: string, message: string): void {
    if (this.problems.length < MAX_LISTED_PROBLEMS) this.problems.push({ option, message });
    else this.unlisted += 1;
  }

  /** Problems recorded so far. */
  get count(): number {
    return this.problems.length + this.unlisted;
  }

  /** Throws one MetricsConfigError listing the problems recorded, if any. */
  done(): void {
    const [first, ...more] = this.problems;
    if (first) throw new MetricsConfigError(first.option, first.message, more, this.unlisted);
  }
}

/*
 * Reading options that may be hostile or odd: a getter or a Proxy that throws, an object without
 * a prototype, a value whose toString throws, keys such as `__proto__` or `constructor`, a
 * million entries. Each reader below touches the value once, through a guard, so a parser throws
 * nothing but a MetricsConfigError whatever it is given.
 */

/** A value as a message names it: its type, or a short quote of a number or string. Never runs
 * the value's own code (toString, a getter, a Proxy trap). */
export function shown(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `a bigint`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return value === null ? 'null' : 'an object';
  }
}

const unreadable = (option: string, error: unknown) =>
  error instanceof MetricsConfigError
    ? error
    : new MetricsConfigError(option, 'could not be read (a getter or Proxy threw)');

/** `object[key]`, own or inherited (an options object may be a class instance); a getter or
 * Proxy that throws becomes a MetricsConfigError of `option`. */
export function readOption(object: object, key: string, option: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch (error) {
    throw unreadable(option, error);
  }
}

/** Whether `value` is an array (a Proxy of one too); false for a revoked Proxy. */
function isArray(value: unknown): value is readonly unknown[] {
  try {
    return Array.isArray(value);
  } catch {
    return false;
  }
}

/** A plain copy of an array option's first `max` items, or undefined when `value` is not an
 * array. Reads only `length` and the indices: no iterator, species or method of the input runs. */
export function readList(
  value: unknown,
  option: string,
  max: number,
): { items: unknown[]; length: number } | undefined {
  if (!isArray(value)) return undefined;
  const read = readOption(value, 'length', option);
  const length = typeof read === 'number' ? read : 0;
  const items: unknown[] = [];
  for (let i = 0; i < Math.min(length, max); i++) {
    items.push(readOption(value, String(i), `${option}[${i}]`));
  }
  return { items, length };
}

/** The own enumerable string keys and values of a record option, as a prototype-free copy (so
 * a key named `__proto__` or `constructor` is just a key); undefined when `value` is not a
 * non-array object. */
export function readRecord(value: unknown, option: string): Map<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || isArray(value)) return undefined;
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch (error) {
    throw unreadable(option, error);
  }
  const entries = new Map<string, unknown>();
  for (const key of keys) {
    try {
      entries.set(key, (value as Record<string, unknown>)[key]);
    } catch (error) {
      throw unreadable(`${option}.${key}`, error);
    }
  }
  return entries;
}
