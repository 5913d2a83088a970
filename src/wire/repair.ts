/**
 * The sender's half of the schema: makes of an outgoing value one the receiver's schema accepts,
 * by the policy `schema.ts` declares for each kind of value (`WIRE_VALUE_KINDS`), and reports
 * each value it clamped or dropped. It walks the schema itself (`madeOf`), so a new field is
 * repaired by the rule of its kind without code here, and what it returns is the schema's own
 * output: what a receiver makes of the message, and nothing it would refuse. Isomorphic.
 */
import { madeOf, parse, type Schema } from './schema-kit.js';
import { WIRE_VALUE_KINDS, type WireAdjustment, type WireValueKind } from './schema.js';

/** Told of each value the sender clamped or dropped. */
export type Adjusted = (kind: WireValueKind, action: WireAdjustment) => void;

const KIND_OF = new Map<Schema<unknown>, keyof typeof WIRE_VALUE_KINDS>(
  (Object.keys(WIRE_VALUE_KINDS) as (keyof typeof WIRE_VALUE_KINDS)[]).flatMap((kind) =>
    WIRE_VALUE_KINDS[kind].schemas.map((schema) => [schema, kind] as const),
  ),
);

/** A value that cannot be kept; the nearest list, record, `null`-able or optional field that
 * holds it lets it go (and reports it). */
class Dropped {
  constructor(readonly kind: WireValueKind) {}
}

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * `value` as `schema` makes it once its refused values are clamped or dropped, or `undefined`
 * when nothing of it can be kept (a required value that could only be dropped). Never throws.
 */
export function repair<T>(schema: Schema<T>, value: unknown, adjusted: Adjusted): T | undefined {
  try {
    const fixed = fix(schema, value, false, adjusted);
    return fixed instanceof Dropped ? undefined : (parse(schema, fixed) ?? undefined);
  } catch {
    return undefined; // a getter that threw, a cycle: nothing to send
  }
}

/** An item of a lenient list as a receiver reads it: kept as it is, or left out (as a receiver
 * leaves it out) with the kind of its first refused value. */
function asRead(item: Schema<unknown>, entry: unknown): unknown {
  if (parse(item, entry) !== null) return entry;
  let kind: WireValueKind = 'other';
  const probe = fix(item, entry, true, (k) => (kind = k));
  return new Dropped(probe instanceof Dropped ? probe.kind : kind);
}

/** The value to hand to `schema` (which still cuts strings and lists and fills defaults), or
 * {@link Dropped}. `canDrop`: the field may be `null` or absent. */
function fix(schema: Schema<unknown>, x: unknown, canDrop: boolean, adjusted: Adjusted): unknown {
  const made = madeOf(schema);
  switch (made?.[0]) {
    case 'number': {
      const [, min, max, integer] = made;
      const kind = KIND_OF.get(schema);
      if (typeof x !== 'number' || !Number.isFinite(x)) return new Dropped(kind ?? 'other');
      const clamped = Math.min(max, Math.max(min, integer ? Math.floor(x) : x));
      if (clamped === x) return x;
      if (canDrop && (!kind || WIRE_VALUE_KINDS[kind].outOfRange === 'drop')) {
        return new Dropped(kind ?? 'other');
      }
      adjusted(kind ?? 'other', 'clamped');
      return clamped;
    }
    case 'nullable':
    case 'optional': {
      if (x === (made[0] === 'nullable' ? null : undefined)) return x;
      const kept = fix(made[1], x, true, adjusted);
      if (!(kept instanceof Dropped)) return kept;
      adjusted(kept.kind, 'dropped');
      return made[0] === 'nullable' ? null : undefined;
    }
    case 'array':
    case 'lenientArray': {
      if (!Array.isArray(x)) return new Dropped('other');
      const [by, item, max] = made;
      const out: unknown[] = [];
      for (const entry of x.slice(0, max)) {
        const kept = by === 'array' ? fix(item, entry, true, adjusted) : asRead(item, entry);
        if (kept instanceof Dropped) adjusted(kept.kind, 'dropped');
        else out.push(kept);
      }
      return out;
    }
    case 'record': {
      if (!isRecord(x)) return new Dropped('other');
      const out: Record<string, unknown> = Object.create(null);
      for (const [key, entry] of Object.entries(x).slice(0, made[2])) {
        const kept = fix(made[1], entry, true, adjusted);
        if (kept instanceof Dropped) adjusted(kept.kind, 'dropped');
        else out[key] = kept;
      }
      return out;
    }
    case 'object': {
      if (!isRecord(x)) return new Dropped('other');
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(made[1])) {
        const kept = fix(entry, x[key], false, adjusted);
        if (kept instanceof Dropped) return kept;
        if (kept !== undefined) out[key] = kept;
      }
      return out;
    }
    default:
      // booleans, strings, picklists and hand-written schemas: kept if the schema takes them
      try {
        schema(x);
        return x;
      } catch {
        return new Dropped('other');
      }
  }
}
