import { initializeLogger, log } from '@livekit/agents';

type Level = 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Framework classes (AudioOutput, LLMStream, ...) grab the global logger in their constructors
 * and throw if none exists, so every support module calls this on import; a logger the caller
 * already set up is kept.
 */
export function ensureFrameworkLogger(level: Level = 'silent'): void {
  try {
    log();
  } catch {
    initializeLogger({ pretty: false, level });
  }
}

/** The framework logs through pino to stdout; tests and fixture runs want it quiet. */
export function silenceFrameworkLogs(level: Level = 'silent'): void {
  initializeLogger({ pretty: false, level });
}
