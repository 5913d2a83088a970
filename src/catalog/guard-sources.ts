/**
 * The label values of the `internal_errors` family (`{source,reason}`): what a contained
 * failure came from and how it failed (see `src/util/guard.ts`, the one guard). Fixed lists, so
 * those series stay few.
 */

/**
 * What a contained failure came from:
 * - `sink`: a {@link MetricsSink} of yours (or a built-in one) threw or rejected;
 * - `listener`: an `on(...)` listener;
 * - `logger`: the logger passed in `logger`;
 * - `meter`: the OpenTelemetry meter or one of its instruments;
 * - `room`: the LiveKit room (its events, its local participant);
 * - `framework`: the `@livekit/agents` session or one of its internals;
 * - `plugin`: the plugin's own code.
 */
export const GUARD_SOURCES = [
  'sink',
  'listener',
  'logger',
  'meter',
  'room',
  'framework',
  'plugin',
] as const;
export type GuardSource = (typeof GUARD_SOURCES)[number];

/** How it failed: a synchronous throw, a returned promise (any thenable) that rejected, or a
 * value the plugin cannot use (e.g. a meter that returns no instrument). */
export const GUARD_REASONS = ['threw', 'rejected', 'invalid'] as const;
export type GuardReason = (typeof GUARD_REASONS)[number];
