/**
 * A small schema kit for the report format: each schema is both a TypeScript type (`Infer`) and
 * a validator of untrusted input that returns a fresh value holding only known fields, every
 * number in its range, every string and list cut to its bound, and records without a prototype.
 *
 * Why not a schema library here: the overlay ships this code to browsers within an 8 KiB gzipped
 * budget, and the smallest library measured costs most of it on its own (valibot ≥ 2.1 KiB
 * gzipped for a minimal schema, zod/mini 6.8 KiB; docs/BENCHMARKS.md). The worker hub, which runs
 * only in Node, validates its frames with valibot. Isomorphic.
 */

/** Validates `input` and returns what to keep, or throws {@link Invalid}. */
export type Schema<T> = (input: unknown) => T;

/** The type a schema produces. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A schema whose key may be absent from an object (or its value `undefined`). */
export type OptionalSchema<T> = Schema<T | undefined> & { readonly optional: true };

/**
 * How a schema of this kit was made: its constructor's name and arguments. Code that walks a
 * schema reads it (the sender's repair in `encode.ts`, the property tests' generators), so a new
 * field is covered without another list of fields. A hand-written schema has none.
 */
export type Made =
  | readonly ['number', min: number, max: number, integer: boolean]
  | readonly ['boolean']
  | readonly ['string', max: number, min: number]
  | readonly ['picklist', values: readonly (string | number)[]]
  | readonly ['nullable' | 'optional', item: Schema<unknown>]
  | readonly ['array' | 'lenientArray', item: Schema<unknown>, max: number]
  | readonly ['record', value: Schema<unknown>, max: number, maxKey: number]
  | readonly ['object', entries: Record<string, Schema<unknown>>];

let names: Map<unknown, Made[0]> | undefined;

/** How `schema` was made, or `undefined` for a hand-written one. */
export function madeOf(schema: Schema<unknown>): Made | undefined {
  // built on first use, so that a bundle which never walks a schema (the overlay) drops it
  names ??= new Map<unknown, Made[0]>([
    [number, 'number'],
    [string, 'string'],
    [picklist, 'picklist'],
    [nullable, 'nullable'],
    [optional, 'optional'],
    [array, 'array'],
    [lenientArray, 'lenientArray'],
    [record, 'record'],
    [object, 'object'],
  ]);
  if (schema === boolean) return ['boolean'];
  const [by, ...args] = (schema as { made?: unknown[] }).made ?? [];
  const name = names.get(by);
  return name && ([name, ...args] as unknown as Made);
}

// The tag costs the overlay a few bytes a constructor: a reference to it, and the arguments the
// schema holds anyway.
const made = <S>(schema: S, ...how: unknown[]): S => (
  ((schema as { made?: unknown }).made = how),
  schema
);

/** Thrown by a schema on input it refuses; {@link parse} turns it into `null`. */
export class Invalid extends Error {}

const fail = (): never => {
  throw new Invalid();
};

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** The value `schema` makes of `input`, or `null` when it refuses it. Never throws. */
export function parse<T>(schema: Schema<T>, input: unknown): T | null {
  try {
    return schema(input);
  } catch {
    return null;
  }
}

/** A finite number within [min, max] (an integer with `integer`); `-0` reads as `0`, as JSON
 * sends it. */
export const number = (min: number, max: number, integer = false): Schema<number> =>
  made(
    (x: unknown) =>
      typeof x === 'number' && x >= min && x <= max && (!integer || Number.isInteger(x))
        ? x + 0
        : fail(),
    number,
    min,
    max,
    integer,
  );

export const boolean: Schema<boolean> = (x) => (typeof x === 'boolean' ? x : fail());

/** A string, cut to `max` characters. */
export const string = (max: number, min = 0): Schema<string> =>
  made(
    (x: unknown) =>
      typeof x === 'string' && x.length >= min ? (x.length > max ? x.slice(0, max) : x) : fail(),
    string,
    max,
    min,
  );

export const picklist = <const T extends string | number>(values: readonly T[]): Schema<T> =>
  made((x: unknown) => (values.includes(x as T) ? (x as T) : fail()), picklist, values);

export const literal = <const T extends string | number>(value: T): Schema<T> => picklist([value]);

export const nullable = <T>(schema: Schema<T>): Schema<T | null> =>
  made((x: unknown) => (x === null ? null : schema(x)), nullable, schema);

/** A key that may be absent; with `fallback`, an absent one reads as that (so it is required in
 * the output type). */
export function optional<T>(schema: Schema<T>): OptionalSchema<T>;
export function optional<T>(schema: Schema<T>, fallback: () => NoInfer<T>): Schema<T>;
export function optional<T>(schema: Schema<T>, fallback?: () => T): Schema<T | undefined> {
  // the fallback goes through the schema too: a default reads as a received value would
  const s = made(
    (x: unknown) => (x !== undefined ? schema(x) : fallback && schema(fallback())),
    optional,
    schema,
  );
  return fallback ? s : Object.assign(s, { optional: true as const });
}

/** A list cut to `max` items, each validated. */
export const array = <T>(item: Schema<T>, max: number): Schema<T[]> =>
  made((x: unknown) => (Array.isArray(x) ? x.slice(0, max).map(item) : fail()), array, item, max);

/** Items that `item` refuses are left out instead of refusing the list. */
export const lenientArray = <T>(item: Schema<T>, max: number): Schema<T[]> =>
  made(
    (x: unknown) =>
      Array.isArray(x)
        ? x.slice(0, max).flatMap((entry) => {
            const kept = parse(item, entry);
            return kept === null ? [] : [kept];
          })
        : fail(),
    lenientArray,
    item,
    max,
  );

/** A record keyed by received names: at most `max` entries, keys cut to `maxKey` characters,
 * built without a prototype (so `__proto__` or `constructor` stays an ordinary entry). */
export const record = <T>(
  value: Schema<T>,
  max: number,
  maxKey: number,
): Schema<Record<string, T>> =>
  made(
    (x: unknown) => {
      if (!isRecord(x)) return fail();
      const out: Record<string, T> = Object.create(null);
      for (const [key, entry] of Object.entries(x).slice(0, max)) {
        out[key.slice(0, maxKey)] = value(entry);
      }
      return out;
    },
    record,
    value,
    max,
    maxKey,
  );

type Entries = Record<string, Schema<unknown>>;
type OptionalKeys<E extends Entries> = {
  [K in keyof E]: E[K] extends { optional: true } ? K : never;
}[keyof E];
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** What {@link object} produces: the required entries, and the optional ones as optional keys. */
export type ObjectOf<E extends Entries> = Simplify<
  { [K in Exclude<keyof E, OptionalKeys<E>>]: Infer<E[K]> } & {
    [K in OptionalKeys<E>]?: Exclude<Infer<E[K]>, undefined>;
  }
>;

/** An object of these entries only: unknown keys are dropped, an absent optional key stays
 * absent. */
export function object<E extends Entries>(entries: E): Schema<ObjectOf<E>> {
  const schema = (x: unknown) => {
    if (!isRecord(x)) return fail();
    const out: Record<string, unknown> = {};
    for (const key in entries) {
      const value = entries[key]!(x[key]);
      if (value !== undefined) out[key] = value;
    }
    return out as ObjectOf<E>;
  };
  return made(schema, object, entries);
}
