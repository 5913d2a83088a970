/** The check every hub socket directory passes before the hub listens in it. */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  HubSocketDirError,
  assertPrivateDir,
  createSocketDir,
} from '../../../src/prometheus/hub/socket-dir.js';

const root = mkdtempSync(join(tmpdir(), 'socket-dir-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

function dir(name: string, mode: number): string {
  const path = join(root, name);
  mkdirSync(path);
  chmodSync(path, mode);
  return path;
}

describe('assertPrivateDir', () => {
  it('accepts a 0700 directory of ours', () => {
    assert.doesNotThrow(() => assertPrivateDir(dir('private', 0o700)));
  });

  it('refuses a directory others may enter or list', () => {
    for (const mode of [0o755, 0o711, 0o770, 0o707, 0o1777]) {
      const path = dir(`open-${mode.toString(8)}`, mode);
      assert.throws(() => assertPrivateDir(path), HubSocketDirError, mode.toString(8));
    }
  });

  it('refuses a link, even to a private directory', () => {
    const link = join(root, 'link');
    symlinkSync(dir('target', 0o700), link);
    assert.throws(() => assertPrivateDir(link), /not private/);
  });

  it("refuses a directory of another user, when there can be one (root's tests)", () => {
    const path = dir('theirs', 0o700);
    if (process.getuid?.() !== 0) return assert.doesNotThrow(() => assertPrivateDir(path));
    chownSync(path, 65534, 65534);
    assert.throws(() => assertPrivateDir(path), /owner 65534/);
  });
});

describe('createSocketDir', () => {
  it('makes a private directory named after the pid, and removes it', async () => {
    const made = await createSocketDir(root);
    assert.match(made.path, new RegExp(`/lkam-hub-${process.pid}-[A-Za-z0-9]{6}$`));
    assert.doesNotThrow(() => assertPrivateDir(made.path));
    made.remove();
    made.remove(); // idempotent
    assert.throws(() => assertPrivateDir(made.path), /ENOENT/);
  });
});
