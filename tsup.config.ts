import { rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

/** Declarations carry the public API only: a declaration tagged `@internal` is left out, so
 * what the entries export is what users can name (api/*.api.md records it; `npm run api:check`).
 * A new object per build: tsup writes the build's entries into it. */
const publicDeclarations = (): Options['dts'] => ({ compilerOptions: { stripInternal: true } });

const node: Options = {
  // `cli` is the package's binary (dist/cli.js, `bin` in package.json); its shebang is kept.
  // `caller` is `livekit-agents-metrics/caller` (heard latency for @livekit/rtc-node callers),
  // `loadtest` is `livekit-agents-metrics/loadtest` (runLoadTest, docs/LOADTEST.md).
  entry: {
    index: 'src/index.ts',
    cli: 'src/cli.ts',
    caller: 'src/caller/index.ts',
    loadtest: 'src/loadtest/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: publicDeclarations(),
  sourcemap: true,
  target: 'node20',
  // `import.meta.url` in the CommonJS build too: the load test finds its bundled utterances
  // (examples/assets, in package.json "files") from its own module's place
  shims: true,
  // The framework, its native bindings and its server SDK (watch mints tokens with it) are the
  // host's: never bundle them.
  external: ['@livekit/agents', '@livekit/rtc-node', 'livekit-server-sdk', 'prom-client'],
};

/** `livekit-agents-metrics/overlay` and `/overlay/react`: browser code, checked by
 * tsconfig.browser.json. Each entry is self-contained (no shared chunk) so its size is its own. */
const browser: Options = {
  entry: { index: 'src/overlay/index.ts', react: 'src/overlay/react.ts' },
  outDir: 'dist/overlay',
  format: ['esm', 'cjs'],
  dts: publicDeclarations(),
  sourcemap: true,
  platform: 'browser',
  target: 'es2020',
  minify: true,
  splitting: false,
  tsconfig: 'tsconfig.browser.json',
  // The app brings its own React and livekit-client (the overlay only uses them by type).
  external: ['react', 'livekit-client'],
};

export default defineConfig((cli) => {
  // The two builds run in parallel, so neither may clean: tsup's clean of `dist` would race the
  // other build's files (its declaration pass deletes every .d.ts under its outDir). Clean once here.
  if (!cli.watch && cli.outDir === undefined) rmSync('dist', { recursive: true, force: true });
  return [node, browser];
});
