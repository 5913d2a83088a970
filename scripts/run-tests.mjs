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
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

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
const inTier = (name, file) => TIERS[name].some((dir) => file.startsWith(`${dir}/`));

/** Runs test files in one `node --test`; unit-tier files under the guard that keeps them pure. */
function runFiles(files, unit) {
  return run(process.execPath, [
    '--expose-gc',
    '--import',
    'tsx',
    // test/support/unit-guard.ts: a child process, socket, server or fetch fails a unit test
    ...(unit ? ['--import', './test/support/unit-guard.ts'] : []),
    '--test',
    '--test-reporter=spec',
    // A test file whose tests are done ends even if a native handle (e.g. a LiveKit SDK room
    // left undisposed) would keep it alive: a leak must not stall the whole run.
    '--test-force-exit',
    ...files,
  ]);
}

/**
 * The unit tier's files in one process: one entry file that imports them all. A process per file
 * (the runner's default) costs a Node and tsx start-up each, about two thirds of the tier's CPU
 * time; unit tests share nothing that needs a process of its own (their timers are mocked and
 * reset after each test).
 */
function runUnitTier(files) {
  const dir = mkdtempSync(join(tmpdir(), 'lkam-unit-'));
  try {
    const entry = join(dir, 'unit.test.mjs');
    const imports = files.map((f) => `import ${JSON.stringify(pathToFileURL(resolve(f)).href)};`);
    writeFileSync(entry, `${imports.join('\n')}\n`);
    return runFiles([entry], true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd, cmdArgs) {
  return spawnSync(cmd, cmdArgs, { stdio: 'inherit', env: process.env }).status ?? 1;
}

if (tier) {
  const files = TIERS[tier].flatMap(findTests);
  if (files.length === 0) fail(`no test files in the ${tier} tier`);
  process.exit(tier === 'unit' ? runUnitTier(files) : runFiles(files, false));
}
if (args.length > 0) {
  // Files of the unit tier alone run under its guard, as they do in the tier.
  process.exit(
    runFiles(
      args,
      args.every((f) => inTier('unit', normalize(f))),
    ),
  );
}

// Everything: the typechecks, then each tier (all of them, even after a failure).
const all = findTests('test');
// A test in a directory of no tier would run only here: say so instead.
const stray = all.filter((f) => !Object.keys(TIERS).some((name) => inTier(name, f)));
if (stray.length > 0) {
  fail(`test files in no tier (add their directory to TIERS in scripts/run-tests.mjs):
  ${stray.join('\n  ')}`);
}
// The typechecks take about half a minute, so only this full run does them (`npm run typecheck`
// does them alone); a tier runs its tests at once through tsx, which strips the types.
// Node code and tests, then the browser side (DOM, no Node types: the overlay and test pages).
for (const tsconfig of ['tsconfig.json', 'tsconfig.browser.json']) {
  if (run('npx', ['tsc', '-p', tsconfig]) !== 0) fail(`typecheck failed (${tsconfig})`);
}
const failed = Object.keys(TIERS).filter((name) => {
  const files = all.filter((f) => inTier(name, f));
  if (files.length === 0) return false;
  return (name === 'unit' ? runUnitTier(files) : runFiles(files, false)) !== 0;
});
if (failed.length > 0) fail(`failed: the ${failed.join(', ')} tier${failed.length > 1 ? 's' : ''}`);

function fail(message) {
  console.error(message);
  process.exit(1);
}
