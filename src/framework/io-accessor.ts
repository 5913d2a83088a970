/** The descriptor of `key` on `object` or the first of its prototypes that defines it: where a
 * class's getter and setter live. */
function findAccessor(object: object, key: string): PropertyDescriptor | undefined {
  for (let o: object | null = object; o; o = Object.getPrototypeOf(o) as object | null) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d) return d;
  }
  return undefined;
}

/** An accessor put in front of another (see {@link interposeAccessor}). */
export interface InterposedAccessor {
  /** The original getter and setter, called on the object. */
  get(): unknown;
  set(value: unknown): void;
  /** Puts back what was there: the object's own accessor, or none, so its class's applies. */
  restore(): void;
}

/**
 * Puts an own accessor for `key` on `object` (found on it or its class) that reads through the
 * original getter and hands every assignment to `onSet` with the original setter, as a session's
 * `input.audio` / `output.audio` are watched. `undefined` when `key` has no getter and setter.
 */
export function interposeAccessor(
  object: object,
  key: string,
  onSet: (value: unknown, set: (value: unknown) => void) => void,
): InterposedAccessor | undefined {
  const accessor = findAccessor(object, key);
  const { get, set } = accessor ?? {};
  if (!accessor || !get || !set) return undefined;
  const own = Object.hasOwn(object, key) ? accessor : undefined;
  const original = {
    get: (): unknown => get.call(object),
    set: (value: unknown): void => void set.call(object, value),
  };
  Object.defineProperty(object, key, {
    configurable: true,
    enumerable: accessor.enumerable ?? false,
    get: original.get,
    set: (value: unknown) => onSet(value, original.set),
  });
  return {
    ...original,
    restore: () => {
      if (own) Object.defineProperty(object, key, own);
      else Reflect.deleteProperty(object, key);
    },
  };
}
