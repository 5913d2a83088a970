import type { Guard } from '../util/guard.js';
import type { FrameworkFeature } from './features.js';
import { REACHES, type ReachId } from './reaches.js';

/** What a reach needs of its session's metrics: the guard, and where a feature turns off. */
export interface FrameworkContext {
  /** Calls into the framework go through it (source `framework`): a throw is counted, logged
   * once and contained. */
  guard: Guard;
  /** `feature` turned itself off in this session, and why (`health.disabledFeatures`). Called
   * at most once per feature by {@link turnOff}'s callers' owner; extra calls are harmless. */
  featureDisabled(feature: FrameworkFeature, why: string): void;
}

/**
 * A reach found a shape it does not know (or the framework threw inside it): its feature turns
 * itself off, says so once in the log, and shows in health. Never throws.
 */
export function turnOff(ctx: FrameworkContext, reach: ReachId, why: string): void {
  const { feature, verifiedOn } = REACHES[reach];
  try {
    ctx.guard.warnOnce(
      `framework:${feature}`,
      { feature, reach, why, verifiedOn: verifiedOn.join(', ') },
      `metrics feature ${feature} turned itself off: @livekit/agents is not as the plugin verified it; the agent is unaffected`,
    );
  } catch {
    // the guard does not throw; the agent goes on whatever happens here
  }
  ctx.guard.run('plugin', 'feature_disabled', () => ctx.featureDisabled(feature, why));
}

/** A value's type for a message: `undefined`, `null`, `array`, `function`, `object`, … */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** `object[key]`, or `undefined` when `object` is not an object or reading throws (a getter). */
export function read(object: unknown, key: PropertyKey): unknown {
  if ((typeof object !== 'object' && typeof object !== 'function') || object === null) {
    return undefined;
  }
  try {
    return (object as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}
