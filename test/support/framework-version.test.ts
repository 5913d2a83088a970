/**
 * Which @livekit/agents this process really loads. Under `npm run test:framework -- <version>`
 * (LKAM_AGENTS_DIR and LKAM_AGENTS_VERSION set, test/support/framework-version-hook.mjs in
 * NODE_OPTIONS) it must be the cached install of that version, for src/ and the tests alike, and
 * the framework must share this repository's @livekit/rtc-node (one AudioFrame class); in the
 * plain suite, the node_modules/ copy the devDependency pins.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AudioByteStream } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { ensureFrameworkLogger } from './logging.js';

const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
};

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The package.json of the package a resolved file belongs to. */
function manifestOf(file: string, name: string): { path: string; version: string } {
  const marker = `${sep}node_modules${sep}${name.split('/').join(sep)}${sep}`;
  const at = file.lastIndexOf(marker);
  assert.ok(at >= 0, `${file} is not inside a ${name} package`);
  const path = join(file.slice(0, at + marker.length), 'package.json');
  return { path, version: (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version };
}

const entry = fileURLToPath(import.meta.resolve('@livekit/agents'));
const loaded = manifestOf(entry, '@livekit/agents');
const expectedDir = process.env.LKAM_AGENTS_DIR;
const expectedVersion = process.env.LKAM_AGENTS_VERSION;

describe('the @livekit/agents under test', () => {
  it('is the version asked for, from where it was asked', () => {
    console.log(`@livekit/agents ${loaded.version} from ${loaded.path}`);
    if (expectedDir || expectedVersion) {
      assert.ok(expectedDir && expectedVersion, 'set both LKAM_AGENTS_DIR and LKAM_AGENTS_VERSION');
      assert.equal(loaded.version, expectedVersion);
      assert.equal(
        dirname(loaded.path),
        join(resolve(expectedDir), 'node_modules', '@livekit', 'agents'),
      );
    } else {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
        devDependencies: Record<string, string>;
      };
      assert.equal(dirname(loaded.path), join(root, 'node_modules', '@livekit', 'agents'));
      assert.ok(
        semver.satisfies(loaded.version, pkg.devDependencies['@livekit/agents']!),
        `${loaded.version} is not the devDependency's ${pkg.devDependencies['@livekit/agents']}`,
      );
    }
  });

  it('is the module src/ and the tests import', async () => {
    // The same URL gives the same module record: the bare import went where resolve says.
    const bare = await import('@livekit/agents');
    const direct = await import(pathToFileURL(entry).href);
    assert.equal(bare, direct);
    assert.equal(typeof bare.voice.AgentSession, 'function');
  });

  it('shares the repository’s @livekit/rtc-node', () => {
    const fromFramework = createRequire(entry).resolve('@livekit/rtc-node');
    const ours = createRequire(join(root, 'package.json')).resolve('@livekit/rtc-node');
    assert.equal(
      manifestOf(fromFramework, '@livekit/rtc-node').path,
      manifestOf(ours, '@livekit/rtc-node').path,
      'the framework would load a second @livekit/rtc-node',
    );
    // One class: a frame the framework makes is an AudioFrame to src/ and the tests.
    ensureFrameworkLogger();
    const frames = new AudioByteStream(16000, 1).write(new Int16Array(1600).buffer);
    assert.equal(frames.length, 1);
    assert.ok(frames[0] instanceof AudioFrame, 'the framework made an AudioFrame of another class');
  });
});
