/**
 * The worker hub's socket is private and leaves nothing behind. A real worker process (a child
 * running startMetricsServer under `umask 000`) is probed by another local user (`nobody`, via
 * setpriv, when the tests run as root), then ended by SIGTERM, SIGINT or SIGKILL; a worker started
 * after a SIGKILL removes what the killed one left.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';

const INDEX = new URL('../../src/index.js', import.meta.url).href;
/** Every worker of this file makes its socket directory here (TMPDIR), so the test can list it. */
const parent = mkdtempSync(join(tmpdir(), 'hub-socket-test-'));
chmodSync(parent, 0o1777); // open to every user, as /tmp is
after(() => rmSync(parent, { recursive: true, force: true }));

interface Worker {
  child: ChildProcess;
  socketPath: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A worker's main process under umask 000; `userHandler` adds the user's own SIGTERM handler. */
async function startWorker(userHandler = false): Promise<Worker> {
  const script = `
    process.umask(0);
    ${userHandler ? "process.on('SIGTERM', () => { console.log('user handler'); process.exit(0); });" : ''}
    const { startMetricsServer } = await import(${JSON.stringify(INDEX)});
    await startMetricsServer({ port: 0, host: '127.0.0.1' });
    console.log(JSON.parse(process.env.LIVEKIT_AGENTS_METRICS_HUB).path);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, TMPDIR: parent },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const socketPath = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', () => reject(new Error(`worker exited before listening: ${out}`)));
  });
  return { child, socketPath, exited };
}

const leftovers = () => readdirSync(parent).filter((name) => name.startsWith('lkam'));

/** Whether `nobody` can connect to a unix socket: 'connected' or the error code. */
function connectAsNobody(path: string): string {
  const probe = `require('net').createConnection(${JSON.stringify(path)})
    .on('connect', () => { console.log('connected'); process.exit(0); })
    .on('error', (e) => { console.log(e.code); process.exit(0); });`;
  const run = spawnSync(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', probe],
    { encoding: 'utf8', timeout: 10_000 },
  );
  return `${run.stdout}`.trim() || `failed: ${run.stderr}`;
}

const canSwitchUser = () =>
  process.getuid?.() === 0 &&
  spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'true']).status ===
    0;

describe('the worker hub socket', () => {
  it('is private under umask 000: a 0700 directory of ours, a 0600 socket', async () => {
    const worker = await startWorker();
    try {
      const dir = lstatSync(dirname(worker.socketPath));
      const socket = lstatSync(worker.socketPath);
      assert.ok(dir.isDirectory() && !dir.isSymbolicLink());
      assert.equal((dir.mode & 0o777).toString(8), '700');
      assert.equal(dir.uid, process.getuid!());
      assert.ok(socket.isSocket());
      assert.equal((socket.mode & 0o777).toString(8), '600');
      assert.match(dirname(worker.socketPath), new RegExp(`lkam-hub-${worker.child.pid}-`));

      if (canSwitchUser()) {
        // the probe could connect: to a socket anyone may use, made the way the hub once was
        const open = createServer();
        const openPath = join(parent, 'open.sock');
        await new Promise<void>((resolve) => open.listen(openPath, resolve));
        chmodSync(openPath, 0o777);
        try {
          assert.equal(connectAsNobody(openPath), 'connected', 'the probe works');
        } finally {
          await new Promise((resolve) => open.close(resolve));
        }
        assert.equal(connectAsNobody(worker.socketPath), 'EACCES');
      }
    } finally {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`is removed on ${signal}, and ${signal} still ends the process`, async () => {
      for (const name of leftovers()) rmSync(join(parent, name), { recursive: true });
      const worker = await startWorker();
      assert.ok(existsSync(worker.socketPath));
      worker.child.kill(signal);
      assert.deepEqual(await worker.exited, { code: null, signal });
      assert.deepEqual(leftovers(), []);
    });
  }

  it("is removed on SIGTERM when the user's own handler ends the process", async () => {
    const worker = await startWorker(true);
    worker.child.kill('SIGTERM');
    assert.deepEqual(await worker.exited, { code: 0, signal: null });
    assert.equal(existsSync(dirname(worker.socketPath)), false);
  });

  it('left behind by SIGKILL, is removed when the next worker starts', async () => {
    const killed = await startWorker();
    killed.child.kill('SIGKILL');
    await killed.exited;
    assert.ok(existsSync(killed.socketPath), 'SIGKILL leaves the socket');
    // and a socket file of an earlier version, from a process that is gone
    const legacy = spawnSync(
      process.execPath,
      [
        '-e',
        `const path = require('path').join(${JSON.stringify(parent)}, 'lkam-' + process.pid + '-0123abcd.sock');
         require('net').createServer().listen(path, () => { console.log(path); process.kill(process.pid, 'SIGKILL'); });`,
      ],
      { encoding: 'utf8' },
    ).stdout.trim();
    assert.ok(existsSync(legacy), 'the old socket file is there');
    // a directory whose pid is gone here but whose socket answers (another pid namespace
    // sharing the temp directory) stays
    const deadPid = /lkam-(\d+)-/.exec(legacy)![1];
    const foreignDir = join(parent, `lkam-hub-${deadPid}-Zz0099`);
    mkdirSync(foreignDir, { mode: 0o700 });
    const foreign = createServer();
    await new Promise<void>((resolve) => foreign.listen(join(foreignDir, 'hub.sock'), resolve));
    const next = await startWorker();
    try {
      assert.equal(existsSync(dirname(killed.socketPath)), false, 'the stale directory is gone');
      assert.equal(existsSync(legacy), false, 'the old socket file is gone');
      assert.ok(existsSync(join(foreignDir, 'hub.sock')), 'a socket that answers is left alone');
      await new Promise((resolve) => foreign.close(resolve));
      rmSync(foreignDir, { recursive: true, force: true });
      assert.deepEqual(leftovers(), [dirname(next.socketPath).split('/').pop()]);
    } finally {
      next.child.kill('SIGTERM');
      await next.exited;
    }
    assert.deepEqual(leftovers(), []);
  });
});
