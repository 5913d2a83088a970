/**
 * Reaches `input_audio_accessor` and `output_audio_accessor`: an own accessor over a session's
 * `input.audio` / `output.audio`, which live as a getter and setter on AgentInput's and
 * AgentOutput's classes (verified on @livekit/agents 1.9.0).
 */

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
  /** Puts back what was there: the object's own accessor, or none, so its class's applies.
   * Only while ours is still in place (one put over it later stays). */
  restore(): void;
}

/**
 * Puts an own accessor for `key` on `object` (found on it or its class) that reads through the
 * original getter and hands every assignment to `onSet` with the original setter. A string
 * saying why not when `key` is not a configurable getter and setter (nothing is changed then).
 * Throws only what `Object.defineProperty` or a proxy throws (the callers guard it).
 */
export function interposeAccessor(
  object: object,
  key: string,
  onSet: (value: unknown, set: (value: unknown) => void) => void,
): InterposedAccessor | string {
  const accessor = findAccessor(object, key);
  if (!accessor) return `no property ${key}`;
  const { get, set } = accessor;
  if (typeof get !== 'function' || typeof set !== 'function') {
    return `${key} is not a getter and setter`;
  }
  if (Object.hasOwn(object, key) && accessor.configurable !== true) {
    return `${key} is not configurable`;
  }
  const own = Object.hasOwn(object, key) ? accessor : undefined;
  const original = {
    get: (): unknown => get.call(object),
    set: (value: unknown): void => void set.call(object, value),
  };
  const setter = (value: unknown) => onSet(value, original.set);
  Object.defineProperty(object, key, {
    configurable: true,
    enumerable: accessor.enumerable ?? false,
    get: original.get,
    set: setter,
  });
  return {
    ...original,
    restore: () => {
      if (Object.getOwnPropertyDescriptor(object, key)?.set !== setter) return;
      if (own) Object.defineProperty(object, key, own);
      else Reflect.deleteProperty(object, key);
    },
  };
}
