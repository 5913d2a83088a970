import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // The framework and its native bindings are the host's: never bundle them.
  external: ['@livekit/agents', '@livekit/rtc-node', 'prom-client'],
});
