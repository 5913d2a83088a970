/**
 * Last-resort cleanup for the servers and workers a test starts: whatever ends the test process
 * (a normal exit, an uncaught error, Ctrl-C, the runner's SIGTERM), its registered kills run
 * first, so no child outlives it.
 */
const kills = new Set<() => void>();
let installed = false;

function killAll(): void {
  for (const kill of kills) {
    try {
      kill();
    } catch {
      // already gone
    }
  }
  kills.clear();
}

/** Runs `kill` (synchronously) when the process ends; returns a function that unregisters it. */
export function killOnExit(kill: () => void): () => void {
  kills.add(kill);
  if (!installed) {
    installed = true;
    process.once('exit', killAll);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        killAll();
        // our listener is gone now: the signal's default action (or another listener) ends us
        process.kill(process.pid, signal);
      });
    }
  }
  return () => kills.delete(kill);
}
