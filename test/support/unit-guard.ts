/**
 * Loaded into every unit-tier test process (`node scripts/run-tests.mjs unit` passes it with
 * `--import`): a unit test that starts a child process, opens a socket or a server, or fetches
 * fails at once, instead of making the tier slow or dependent on the machine. Such a test belongs
 * in test/integration (see docs/DEVELOPMENT.md, "Test tiers"). Only the test files' processes
 * are guarded (`NODE_TEST_CONTEXT` is set there), not the runner that starts them.
 */
import childProcess from 'node:child_process';
import dgram from 'node:dgram';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

function refuse(what: string): never {
  throw new Error(
    `${what} in a unit test: unit tests run without child processes, sockets or the network; ` +
      'move this test to test/integration',
  );
}

if (process.env.NODE_TEST_CONTEXT) {
  for (const name of [
    'spawn',
    'spawnSync',
    'exec',
    'execSync',
    'execFile',
    'execFileSync',
    'fork',
  ] as const) {
    (childProcess as unknown as Record<string, unknown>)[name] = () =>
      refuse(`child_process.${name}`);
  }
  syncBuiltinESMExports(); // `import { spawn } from 'node:child_process'` sees the guard too
  net.Socket.prototype.connect = () => refuse('a socket connect');
  net.Server.prototype.listen = () => refuse('a server listen'); // http(s) servers too
  dgram.Socket.prototype.bind = () => refuse('a UDP socket');
  globalThis.fetch = async () => refuse('fetch');
}
