import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

/**
 * The hub's socket lives in a directory of its own, made with mode 0700 and checked after it was
 * made, so no other local user can reach the socket whatever the process umask. The directory
 * name carries the pid: a later start removes the directories of processes that died without
 * cleaning up (SIGKILL). SIGTERM and SIGINT remove it too, without changing what the signal
 * does to the process.
 */
export interface SocketDir {
  readonly path: string;
  readonly socketPath: string;
  /** Makes the socket file 0600 once it exists (the directory already keeps others out). */
  restrictSocket(): void;
  /** Removes the socket and the directory; idempotent. */
  remove(): void;
}

const PREFIX = 'lkam-hub-';
const SOCKET_NAME = 'hub.sock';
/** `lkam-hub-<pid>-<random>`, as mkdtemp names them. */
const DIR_NAME = /^lkam-hub-(\d+)-[A-Za-z0-9]{6}$/;
/** The socket files of earlier versions, made directly in the temp directory. */
const LEGACY_SOCKET = /^lkam-(\d+)-[0-9a-f]{8}\.sock$/;

/** Thrown when the socket directory is not private; says what to change. */
export class HubSocketDirError extends Error {
  override readonly name = 'HubSocketDirError';
}

export async function createSocketDir(parent: string): Promise<SocketDir> {
  await removeStaleSocketDirs(parent);
  const path = mkdtempSync(join(parent, `${PREFIX}${process.pid}-`));
  try {
    assertPrivateDir(path);
  } catch (error) {
    rmSync(path, { recursive: true, force: true });
    throw error;
  }
  const socketPath = join(path, SOCKET_NAME);
  let removed = false;
  const dir: SocketDir = {
    path,
    socketPath,
    restrictSocket: () => chmodSync(socketPath, 0o600),
    remove: () => {
      if (removed) return;
      removed = true;
      live.delete(dir);
      removeDir(path);
      if (live.size === 0) uninstallHandlers();
    },
  };
  live.add(dir);
  installHandlers();
  return dir;
}

/** Refuses a directory that is a link, belongs to another user or is open to anyone else. */
export function assertPrivateDir(path: string): void {
  const stat = lstatSync(path);
  const uid = process.getuid?.();
  const mode = stat.mode & 0o777;
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || mode !== 0o700) {
    throw new HubSocketDirError(
      `the worker hub's socket directory ${path} is not private (mode ${mode.toString(8)}, ` +
        `owner ${stat.uid}); check the temp directory (TMPDIR) and its mount options`,
    );
  }
}

function removeDir(path: string): void {
  try {
    rmSync(join(path, SOCKET_NAME), { force: true });
    rmdirSync(path);
  } catch {
    // already gone, or holds something that is not ours: left alone
  }
}

/**
 * Removes the socket directories (and earlier versions' socket files) left by hubs whose
 * process is gone: ours only, never one a live hub in this process uses, and never one whose
 * socket still answers (a pid says little across pid namespaces sharing a temp directory).
 */
export async function removeStaleSocketDirs(parent: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  const removals: Array<Promise<void>> = [];
  for (const name of names) {
    const dirMatch = DIR_NAME.exec(name);
    const legacyMatch = dirMatch ? undefined : LEGACY_SOCKET.exec(name);
    const pid = Number((dirMatch ?? legacyMatch)?.[1]);
    if (!pid) continue;
    const path = join(parent, name);
    try {
      const stat = lstatSync(path);
      if (uid !== undefined && stat.uid !== uid) continue;
      if (!isStale(pid, path)) continue;
      if (dirMatch && stat.isDirectory()) {
        removals.push(removeUnlessAnswering(join(path, SOCKET_NAME), () => removeDir(path)));
      } else if (legacyMatch && stat.isSocket()) {
        removals.push(removeUnlessAnswering(path, () => rmSync(path, { force: true })));
      }
    } catch {
      // raced with its owner or another cleaner
    }
  }
  await Promise.all(removals);
}

async function removeUnlessAnswering(socketPath: string, remove: () => void): Promise<void> {
  try {
    if (!(await answers(socketPath))) remove();
  } catch {
    // not ours to remove after all
  }
}

/** Whether something listens on a unix socket (a refused or missing socket does not). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const done = (live: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(live);
    };
    const timer = setTimeout(() => done(true), 1_000); // slow to answer is not dead
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function isStale(pid: number, path: string): boolean {
  // Our own pid: a process before us had it (containers start at the same pid every time),
  // unless the directory is one of this process's live hubs.
  if (pid === process.pid) return ![...live].some((d) => d.path === path);
  try {
    process.kill(pid, 0);
    return false; // alive
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Socket directories of this process's running hubs. */
const live = new Set<SocketDir>();
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
let installed = false;

const onExit = () => {
  for (const dir of [...live]) dir.remove();
};

/**
 * On a signal with no other listener, removes the directories, then lets the signal do what it
 * would have done: the listener steps aside and the signal is raised again (the process ends by
 * it, with its usual exit status). With other listeners (the framework's CLI has them), the
 * process is theirs to end; the 'exit' listener cleans up when it does.
 */
const onSignal = (signal: NodeJS.Signals) => {
  if (process.listenerCount(signal) > 1) return;
  onExit();
  uninstallHandlers();
  process.kill(process.pid, signal);
};

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstallHandlers(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', onExit);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}
