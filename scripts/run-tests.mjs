#!/usr/bin/env node
// Runs every test: the typechecks, then each test/**/*.test.ts file under Node's test runner
// (through tsx, so the TypeScript sources are tested as they are).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : findTests('test');
if (files.length === 0) {
  console.error('no test files found under test/');
  process.exit(1);
}

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: process.env }).status ?? 1;

// Node code and tests, then the browser side (DOM, no Node types: the overlay and test pages).
for (const tsconfig of only.length === 0 ? ['tsconfig.json', 'tsconfig.browser.json'] : []) {
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
