// Loads another @livekit/agents than the one in node_modules/, for `npm run test:framework`
// (scripts/test-framework.mjs; docs/DEVELOPMENT.md, "Framework versions").
//
//   LKAM_AGENTS_DIR=.cache/agents-1.8.1 node --import ./test/support/framework-version-hook.mjs …
//
// A resolve hook (module.register) resolves the bare specifier `@livekit/agents` and its subpaths
// as if imported from LKAM_AGENTS_DIR, a directory with its own package.json and node_modules/
// (npm install'ed by the script), wherever the import comes from: src/, the tests, the provider
// plugins. So are `@livekit/agents-plugin-*` the script installed there (the release's own, when
// the tests import one). Everything else resolves as usual. The cached install has no peer dependencies of its
// own (npm install --legacy-peer-deps), so the framework's `@livekit/rtc-node` and `zod` resolve
// up the directory tree to this repository's node_modules/: one copy of each in the process, the
// one the tests and src/ use (AudioFrame instanceof checks, zod schemas), as an application's
// own peers would be. test/support/framework-version.test.ts checks that the redirect applied.
//
// Only ESM imports go through it (Node 20's module.register does not reach require()); the
// package and the tests are ESM. Passed in NODE_OPTIONS, it applies to child processes too.
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';

const HOOKS = 'hooks';

if (new URL(import.meta.url).searchParams.get('role') !== HOOKS) {
  // The preload on the main thread: take the directory, then install the hooks below in
  // the loader thread (this same file, loaded again with ?role=hooks).
  const dir = process.env.LKAM_AGENTS_DIR;
  if (!dir) {
    throw new Error(
      'framework-version-hook: set LKAM_AGENTS_DIR to a directory with @livekit/agents installed',
    );
  }
  const base = pathToFileURL(`${resolvePath(dir)}/package.json`).href;
  const hooks = new URL(import.meta.url);
  hooks.searchParams.set('role', HOOKS);
  register(hooks.href, { data: { base } });
}

let base;
/** Which packages the cached install has, by name (asked once each). */
const cached = new Map();

/** @param {{ base: string }} data */
export function initialize(data) {
  base = data.base;
}

/** `@livekit/agents`, a subpath of it, or a provider plugin: the package name, else undefined. */
const REDIRECTED = /^(@livekit\/agents(?:-plugin-[^/]+)?)(?:\/.*)?$/;

function inCache(name) {
  if (!cached.has(name)) {
    cached.set(name, existsSync(new URL(`node_modules/${name}/package.json`, base)));
  }
  return cached.get(name);
}

/**
 * @param {string} specifier
 * @param {{ parentURL?: string }} context
 * @param {(specifier: string, context: object) => unknown} nextResolve
 */
export function resolve(specifier, context, nextResolve) {
  const name = base ? REDIRECTED.exec(specifier)?.[1] : undefined;
  // The framework always; a provider plugin when the script installed the one of its release.
  if (name && (name === '@livekit/agents' || inCache(name))) {
    return nextResolve(specifier, { ...context, parentURL: base });
  }
  return nextResolve(specifier, context);
}
