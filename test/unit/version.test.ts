/**
 * src/version.ts is the package's name and version as package.json has them (the OpenTelemetry
 * meter's instrumentation scope), and config hands them to `meterProvider.getMeter()`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { resolveOptions } from '../../src/config.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../src/version.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

describe('the package version', () => {
  it('is package.json\'s name and version (update src/version.ts after "npm version")', () => {
    assert.equal(PACKAGE_NAME, pkg.name);
    assert.equal(PACKAGE_VERSION, pkg.version);
  });

  it('names the OpenTelemetry meter: getMeter(name, version)', () => {
    const calls: unknown[][] = [];
    const meter = { createHistogram: () => ({}) };
    const meterProvider = {
      getMeter: (...args: unknown[]) => {
        calls.push(args);
        return meter;
      },
    };
    assert.equal(resolveOptions({ otel: { meterProvider } as never }).otelMeter, meter);
    assert.deepEqual(calls, [[pkg.name, pkg.version]]);
  });
});
