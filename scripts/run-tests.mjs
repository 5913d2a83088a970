#!/usr/bin/env node
// Runs the tests under Node's test runner (through tsx, so the TypeScript sources are tested as
// they are). See docs/DEVELOPMENT.md, "Test tiers".
//
//   node scripts/run-tests.mjs               every tier, after the typechecks (`npm test`)
//   node scripts/run-tests.mjs unit          test/unit: pure code, mocked timers; no typecheck
//   node scripts/run-tests.mjs integration   real sessions, servers, promtool, Prometheus
//   node scripts/run-tests.mjs e2e           browser, packed package, a real LiveKit server
//   node scripts/run-tests.mjs FILE...       just these files
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The directories of each tier. Every test file belongs to exactly one (checked below). */
const TIERS = {
  unit: ['test/unit'],
  integration: ['test/integration', 'test/support'],
  e2e: ['test/overlay', 'test/package', 'test/e2e'],
};

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

const args = process.argv.slice(2);
const tier = args.length === 1 && Object.hasOwn(TIERS, args[0]) ? args[0] : undefined;
let files;
if (tier) {
  files = TIERS[tier].flatMap(findTests);
} else if (args.length > 0) {
  files = args;
} else {
  files = findTests('test');
  // A test in a directory of no tier would run only under `npm test`: say so instead.
  const tiered = new Set(Object.values(TIERS).flat().flatMap(findTests));
  const stray = files.filter((f) => !tiered.has(f));
  if (stray.length > 0) {
    console.error(`test files in no tier (add their directory to TIERS in ${process.argv[1]}):`);
    for (const f of stray) console.error(`  ${f}`);
    process.exit(1);
  }
}
if (files.length === 0) {
  console.error(`no test files found${tier ? ` in the ${tier} tier` : ' under test/'}`);
  process.exit(1);
}

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: process.env }).status ?? 1;

// Only the full run typechecks (about half a minute): a tier runs its tests at once, through tsx,
// which strips the types; `npm run typecheck` checks them on their own.
// Node code and tests, then the browser side (DOM, no Node types: the overlay and test pages).
for (const tsconfig of args.length === 0 ? ['tsconfig.json', 'tsconfig.browser.json'] : []) {
  if (run('npx', ['tsc', '-p', tsconfig]) !== 0) {
    console.error(`typecheck failed (${tsconfig})`);
    process.exit(1);
  }
}
process.exit(
  run(process.execPath, [
    '--expose-gc',
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    // A test file whose tests are done ends even if a native handle (e.g. a LiveKit SDK room
    // left undisposed) would keep it alive: a leak must not stall the whole run.
    '--test-force-exit',
    ...files,
  ]),
);
