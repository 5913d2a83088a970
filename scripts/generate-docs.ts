/** Writes the catalog's metric tables into docs/METRICS.md (`npm run docs`), formatted as the
 * project formats Markdown. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { withCurrentTables } from '../src/catalog/docs.js';

export const METRICS_DOC = fileURLToPath(new URL('../docs/METRICS.md', import.meta.url));

/** docs/METRICS.md as it should be committed. */
export async function currentMetricsDoc(): Promise<string> {
  const options = (await prettier.resolveConfig(METRICS_DOC)) ?? {};
  return prettier.format(withCurrentTables(readFileSync(METRICS_DOC, 'utf8')), {
    ...options,
    parser: 'markdown',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(METRICS_DOC, await currentMetricsDoc());
  console.log('docs/METRICS.md: tables regenerated from src/catalog');
}
