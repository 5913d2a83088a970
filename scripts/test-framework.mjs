#!/usr/bin/env node
// Runs the framework-contract tests against any released @livekit/agents, without touching
// node_modules/. See docs/DEVELOPMENT.md, "Framework versions".
//
//   npm run test:framework -- 1.8.1     that version
//   npm run test:framework -- latest    any dist-tag, or a range (its highest version)
//   npm run test:framework -- lowest    the lowest (highest) version the peer range admits,
//   npm run test:framework -- highest   as the registry has them now
//   … --unless-installed                 not if it is node_modules' version (CI: npm test ran it)
//
// The version is npm install'ed once into .cache/agents-<version>/ (its own package.json, no
// peer dependencies: the framework shares this repository's @livekit/rtc-node and zod), then the
// tests run under test/support/framework-version-hook.mjs, which resolves `@livekit/agents`
// there. The tests: test/integration/framework-contract/, the real AgentSessions of
// test/integration/text-session.test.ts and voice-session.test.ts, and
// test/support/framework-version.test.ts (that the version loaded is the one asked for).
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PACKAGE = '@livekit/agents';
const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const started = Date.now();

const args = process.argv.slice(2);
const unlessInstalled = args.includes('--unless-installed');
const specs = args.filter((a) => a !== '--unless-installed');
if (specs.length !== 1 || specs[0].startsWith('-')) {
  fail(
    'usage: npm run test:framework -- <version | dist-tag | range | lowest | highest> [--unless-installed]',
  );
}
const version = resolveVersion(specs[0]);
if (specs[0] === 'highest') noticeLatest();
const installed = installedVersion();
if (unlessInstalled && version === installed) {
  // CI: npm test has just run every test, these included, on node_modules' copy.
  console.log(
    `framework contract: ${PACKAGE} ${version} is the one in node_modules/, which npm test ran; not run again`,
  );
  process.exit(0);
}
const dir = join(root, '.cache', `agents-${version}`);
install(version, dir);
checkPeers(dir);

const files = [
  ...findTests(join('test', 'integration', 'framework-contract')),
  'test/integration/text-session.test.ts',
  'test/integration/voice-session.test.ts',
  'test/support/framework-version.test.ts',
];
const hook = pathToFileURL(join(root, 'test', 'support', 'framework-version-hook.mjs')).href;
console.log(`${PACKAGE} ${version} (${relative(dir)}): ${files.length} test files`);
const status =
  spawnSync(process.execPath, [join(root, 'scripts', 'run-tests.mjs'), ...files], {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      // In NODE_OPTIONS rather than the test command, so that the processes the tests start
      // (workers, jobs) load the same framework.
      NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${hook}`].filter(Boolean).join(' '),
      LKAM_AGENTS_DIR: dir,
      LKAM_AGENTS_VERSION: version,
    },
  }).status ?? 1;
const took = `${Math.round((Date.now() - started) / 1000)} s`;
if (status !== 0) fail(`framework contract: FAILED against ${PACKAGE} ${version} (${took})`);
console.log(`framework contract: passed against ${PACKAGE} ${version} (${took})`);

/** An exact version from the registry: the highest that matches `spec`, or an end of the peer range. */
function resolveVersion(spec) {
  const ends = { lowest: 0, highest: -1 };
  const query = Object.hasOwn(ends, spec) ? peerRange() : spec;
  const out = spawnSync('npm', ['view', `${PACKAGE}@${query}`, 'version', '--json'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (out.status !== 0 || !out.stdout.trim()) {
    fail(`no ${PACKAGE} version matches "${query}" on the registry\n${out.stderr}`);
  }
  const found = [JSON.parse(out.stdout)].flat();
  const semver = createRequire(import.meta.url)('semver');
  found.sort(semver.compare);
  return found.at(Object.hasOwn(ends, spec) ? ends[spec] : -1);
}

function peerRange() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return pkg.peerDependencies[PACKAGE];
}

function installedVersion() {
  const manifest = join(root, 'node_modules', ...PACKAGE.split('/'), 'package.json');
  return existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).version : undefined;
}

/** A release past the peer range is not "highest": say so, to be tried before widening it. */
function noticeLatest() {
  const out = spawnSync('npm', ['view', `${PACKAGE}@latest`, 'version'], {
    cwd: root,
    encoding: 'utf8',
  });
  const latest = out.stdout.trim();
  const semver = createRequire(import.meta.url)('semver');
  if (out.status === 0 && latest && !semver.satisfies(latest, peerRange())) {
    console.warn(
      `notice: ${PACKAGE} ${latest} (latest) is outside the peer range ${peerRange()}; try it with npm run test:framework -- ${latest}`,
    );
  }
}

/** npm install into its own directory, unless a complete install of that version is there. */
function install(version, dir) {
  const installed = join(dir, 'node_modules', ...PACKAGE.split('/'), 'package.json');
  const done = join(dir, '.installed');
  if (existsSync(done) && existsSync(installed)) {
    if (JSON.parse(readFileSync(installed, 'utf8')).version === version) return;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `agents-${version}`, private: true, dependencies: { [PACKAGE]: version } }, null, 2)}\n`,
  );
  console.log(`installing ${PACKAGE} ${version} into ${relative(dir)}`);
  const npm = spawnSync(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--legacy-peer-deps',
      '--loglevel=error',
    ],
    { cwd: dir, stdio: 'inherit' },
  );
  if (npm.status !== 0) fail(`npm install ${PACKAGE}@${version} failed`);
  writeFileSync(done, `${version}\n`);
}

/** The framework's peers come from this repository's node_modules/: say if they do not fit. */
function checkPeers(dir) {
  const semver = createRequire(import.meta.url)('semver');
  const manifest = join(dir, 'node_modules', ...PACKAGE.split('/'), 'package.json');
  const peers = JSON.parse(readFileSync(manifest, 'utf8')).peerDependencies ?? {};
  const fromFramework = createRequire(manifest);
  for (const [name, range] of Object.entries(peers)) {
    let entry;
    try {
      entry = fromFramework.resolve(name);
    } catch {
      console.warn(`warning: the framework's peer ${name} ${range} is not installed`);
      continue;
    }
    const marker = `/node_modules/${name}/`;
    const found = join(entry.slice(0, entry.lastIndexOf(marker) + marker.length), 'package.json');
    const { version } = JSON.parse(readFileSync(found, 'utf8'));
    const fits = semver.satisfies(version, range);
    console[fits ? 'log' : 'warn'](
      `${fits ? '' : 'warning: '}peer ${name} ${version} (${relative(found)})${fits ? ' satisfies' : ' does not satisfy'} ${range}`,
    );
  }
}

function findTests(dir) {
  if (!existsSync(join(root, dir))) return [];
  const found = [];
  for (const entry of readdirSync(join(root, dir))) {
    const path = join(dir, entry);
    if (statSync(join(root, path)).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

function relative(path) {
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path;
}

function fail(message) {
  console.error(message);
  process.exit(1);
}
