/**
 * `livekit-agents-metrics/loadtest`: how many calls one worker takes, measured as callers hear
 * it. See docs/LOADTEST.md; the same as a command: `npx livekit-agents-metrics loadtest`.
 */
export { runLoadTest } from './ramp.js';
export type {
  LatencyQuantiles,
  LoadTestLimit,
  LoadTestOptions,
  LoadTestProgress,
  LoadTestResult,
  LoadTestStep,
  LoadTestTurn,
} from './types.js';
