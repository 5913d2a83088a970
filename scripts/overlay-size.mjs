#!/usr/bin/env node
// Prints the size of each browser entry in dist/overlay (run `npm run build` first): minified
// bytes as shipped, and gzipped at level 9. Exits non-zero when an entry passes its gzipped budget,
// so a careless import (of Node code, or a whole library) shows up at once.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const DIR = 'dist/overlay';
/** Gzipped budgets, in bytes, of the ESM entries. The overlay's grew from 8 to 10 KiB with the
 * browser's heard-latency measurement (2.4 KiB of it: AudioWorklet, detector, report validator);
 * an app that does not call `measureHeardLatency` tree-shakes it away (`sideEffects: false`). */
/* The whole entry: 8 → 11 KiB with the browser's heard-latency measurement (2.4 KiB), the agent
 * side of heard latency (two stats, four waterfall stages) and the usage and turn-taking report
 * (two stats, per-turn cost); → 11.5 KiB with one schema on both sides of every wire (the
 * caller's reports are encoded through the agent's schema, the kit's schemas say how they were
 * made) and the VAD-anchored interruption stat. The panel alone: 8 → 8.5 KiB for the same. */
const BUDGETS = { 'index.js': 11.5 * 1024, 'react.js': 4 * 1024 };

let files;
try {
  files = readdirSync(DIR).filter((name) => name.endsWith('.js'));
} catch {
  console.error(`no ${DIR}: run \`npm run build\` first`);
  process.exit(1);
}

let over = false;
console.log('file          minified   gzipped   budget');
for (const name of files.sort()) {
  const code = readFileSync(join(DIR, name));
  const gzipped = gzipSync(code, { level: 9 }).length;
  const budget = BUDGETS[name];
  const fits = budget === undefined || gzipped <= budget;
  over ||= !fits;
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`.padStart(9);
  console.log(
    `${name.padEnd(12)} ${kib(code.length)} ${kib(gzipped)} ${budget ? kib(budget) : '        -'}` +
      (fits ? '' : '  OVER BUDGET'),
  );
}
// What an app pays that mounts the panel and does not measure heard latency: the entry's
// original budget, checked on a bundle of that import alone (esbuild, as an app's bundler would).
const { build } = await import('esbuild');
const app = await build({
  stdin: {
    contents: "export { mountMetricsOverlay } from './dist/overlay/index.js';",
    resolveDir: process.cwd(),
  },
  bundle: true,
  minify: true,
  format: 'esm',
  write: false,
  logLevel: 'silent',
});
const appCode = app.outputFiles[0].contents;
const appGzipped = gzipSync(appCode, { level: 9 }).length;
// The panel takes the heard-latency measurement as an argument (`heardLatency: { measure }`), so
// an app that does not measure does not ship it.
const APP_BUDGET = 8.5 * 1024;
const appFits = appGzipped <= APP_BUDGET;
over ||= !appFits;
console.log(
  `${'panel only'.padEnd(12)} ${`${(appCode.length / 1024).toFixed(1)} KiB`.padStart(9)} ` +
    `${`${(appGzipped / 1024).toFixed(1)} KiB`.padStart(9)} ${`${(APP_BUDGET / 1024).toFixed(1)} KiB`.padStart(9)}` +
    (appFits ? '' : '  OVER BUDGET'),
);
process.exit(over ? 1 : 0);
