#!/usr/bin/env node
// The `livekit-agents-metrics` binary. Everything but the process edge is in ./cli/ (testable
// without spawning); no top-level await, so the CommonJS build of this entry works too.
import { main } from './cli/main.js';

main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
