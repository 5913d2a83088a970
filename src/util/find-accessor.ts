/** The descriptor of `key` on `object` or the first of its prototypes that defines it: where a
 * class's getter and setter live. */
export function findAccessor(object: object, key: string): PropertyDescriptor | undefined {
  for (let o: object | null = object; o; o = Object.getPrototypeOf(o) as object | null) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d) return d;
  }
  return undefined;
}
