/**
 * The plugin as users run it: the built package (dist/, made by `npm run build`, which
 * `npm run bench` runs first), not the TypeScript sources through a loader, whose function
 * name wrappers would add cost the published code does not have.
 */
import type * as PluginModule from '../src/index.js';

type Plugin = typeof PluginModule;

export const plugin: Plugin = (await import(
  new URL('../dist/index.js', import.meta.url).href
)) as Plugin;
