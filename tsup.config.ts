import { defineConfig } from 'tsup';

export default defineConfig({
  // `cli` is the package's binary (dist/cli.js, `bin` in package.json); its shebang is kept.
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // The framework and its native bindings are the host's: never bundle them.
  external: ['@livekit/agents', '@livekit/rtc-node', 'prom-client'],
});
