import type { Guard } from './guard.js';

/** A tiny typed event registry whose `emit` calls each listener through the guard: a throw or
 * a rejected promise of one listener is contained, and the others still run. */
export class Listeners<Events extends { [K in keyof Events]: (arg: never) => void }> {
  private readonly byEvent = new Map<keyof Events, Set<Events[keyof Events]>>();

  constructor(private readonly guard: Guard) {}

  on<K extends keyof Events>(event: K, listener: Events[K]): void {
    let set = this.byEvent.get(event);
    if (!set) {
      set = new Set();
      this.byEvent.set(event, set);
    }
    set.add(listener);
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    this.byEvent.get(event)?.delete(listener);
  }

  has(event: keyof Events): boolean {
    return (this.byEvent.get(event)?.size ?? 0) > 0;
  }

  emit<K extends keyof Events>(event: K, arg: Parameters<Events[K]>[0]): void {
    const set = this.byEvent.get(event);
    if (!set) return;
    for (const listener of set) {
      this.guard.call('listener', `listener:${String(event)}`, () =>
        (listener as (a: typeof arg) => unknown)(arg),
      );
    }
  }

  clear(): void {
    this.byEvent.clear();
  }
}
