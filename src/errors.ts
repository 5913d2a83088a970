/** Thrown by `attachMetrics` (and other entry points) when an option is invalid. The message
 * names the option and says what to change. Never thrown once metrics are attached. */
export class MetricsConfigError extends Error {
  override readonly name = 'MetricsConfigError';
  constructor(
    /** Path of the offending option, e.g. `alerts.ttft.warning`. */
    readonly option: string,
    message: string,
  ) {
    super(`livekit-agents-metrics: invalid option \`${option}\`: ${message}`);
  }
}
