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
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
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
const files = [
  ...findTests(join('test', 'integration', 'framework-contract')),
  'test/integration/text-session.test.ts',
  'test/integration/voice-session.test.ts',
  'test/support/framework-version.test.ts',
];
// Provider plugins pin the framework version they were released with: the tests get the ones of
// this release (same version number), installed next to it, if they import any.
const plugins = pluginsImportedBy(files);
const dir = join(root, '.cache', `agents-${version}`);
install(dir, Object.fromEntries([PACKAGE, ...plugins].map((name) => [name, version])));
checkPeers(dir);

const hook = pathToFileURL(join(root, 'test', 'support', 'framework-version-hook.mjs')).href;
console.log(`${PACKAGE} ${version} (${relative(dir)}): ${files.length} test files`);
// A test that waits for a turn that never comes would stall CI: the whole run gets at most
// LKAM_FRAMEWORK_TIMEOUT_S seconds (10 minutes; about 2 on a loaded 2-core machine).
const timeoutS = Number(process.env.LKAM_FRAMEWORK_TIMEOUT_S ?? 600);
const child = spawn(process.execPath, [join(root, 'scripts', 'run-tests.mjs'), ...files], {
  cwd: root,
  stdio: 'inherit',
  detached: true, // its own process group, so a timeout ends the test processes too
  env: {
    ...process.env,
    // In NODE_OPTIONS rather than the test command, so that the processes the tests start
    // (workers, jobs) load the same framework.
    NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${hook}`].filter(Boolean).join(' '),
    LKAM_AGENTS_DIR: dir,
    LKAM_AGENTS_VERSION: version,
  },
});
let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  console.error(`framework contract: no end after ${timeoutS} s; stopping the tests`);
  process.kill(-child.pid, 'SIGKILL');
}, timeoutS * 1000);
const status = await new Promise((done) => child.on('exit', (code) => done(code ?? 1)));
clearTimeout(timer);
const took = `${Math.round((Date.now() - started) / 1000)} s`;
if (status !== 0 || timedOut) {
  fail(
    `framework contract: FAILED against ${PACKAGE} ${version} (${took}${timedOut ? ', timed out' : ''})`,
  );
}
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

/** npm install into its own directory, unless a complete install of the same packages is there. */
function install(dir, dependencies) {
  const done = join(dir, '.installed');
  const wanted = `${JSON.stringify(dependencies)}\n`;
  if (existsSync(done) && readFileSync(done, 'utf8') === wanted) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const name = `agents-${dependencies[PACKAGE]}`;
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name, private: true, dependencies }, null, 2)}\n`,
  );
  // The repository's npm settings (e.g. a native package's download switched off) apply here too.
  if (existsSync(join(root, '.npmrc'))) copyFileSync(join(root, '.npmrc'), join(dir, '.npmrc'));
  const list = Object.entries(dependencies).map(([n, v]) => `${n}@${v}`);
  console.log(`installing ${list.join(' ')} into ${relative(dir)}`);
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
  if (npm.status !== 0) fail(`npm install ${list.join(' ')} failed`);
  writeFileSync(done, wanted);
}

/** The @livekit/agents-plugin-* packages the test files import, following their imports in test/. */
function pluginsImportedBy(entries) {
  const seen = new Set();
  const plugins = new Set();
  const queue = entries.map((f) => join(root, f));
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/(?:from|import\s*\(?)\s*['"]([^'"]+)['"]/g)) {
      const plugin = /^@livekit\/agents-plugin-[^/]+/.exec(spec);
      if (plugin) plugins.add(plugin[0]);
      else if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (target.startsWith(join(root, 'test'))) queue.push(target);
      }
    }
  }
  return [...plugins].sort();
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
