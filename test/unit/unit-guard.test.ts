/**
 * The unit tier runs under test/support/unit-guard.ts (scripts/run-tests.mjs loads it): a unit
 * test that starts a child process, opens a socket or a server, or fetches fails. This checks the
 * guard is in force, so the tier cannot quietly grow slow or machine-dependent again.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createConnection } from 'node:net';
import { describe, it } from 'node:test';

const MOVE = /in a unit test: .* move this test to test\/integration/;

describe('the unit tier guard', () => {
  it('refuses child processes', () => {
    assert.throws(() => spawnSync(process.execPath, ['--version']), MOVE);
  });

  it('refuses servers and sockets', () => {
    const server = createServer();
    try {
      assert.throws(() => server.listen(0, '127.0.0.1'), MOVE);
    } finally {
      if (server.listening) server.close();
    }
    assert.throws(() => createConnection({ port: 9, host: '127.0.0.1' }).destroy(), MOVE);
  });

  it('refuses fetch', async () => {
    await assert.rejects(fetch('http://127.0.0.1:9/'), MOVE);
  });
});
