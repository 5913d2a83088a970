/**
 * The built plugin the audio benchmarks measure: bench/plugin.ts's dist/, or the snapshot of it
 * that bench/audio.bench.ts takes at its start (`LK_BENCH_PLUGIN_DIR`), so a rebuild of dist/
 * during the minutes the runs take cannot change, or remove, what they load.
 */
import type * as PluginModule from '../src/index.js';

const dir = process.env.LK_BENCH_PLUGIN_DIR;

export const plugin = (await import(
  dir ? new URL(`file://${dir}/index.js`).href : new URL('../dist/index.js', import.meta.url).href
)) as typeof PluginModule;
