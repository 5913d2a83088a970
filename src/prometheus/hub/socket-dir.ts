import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  rmdirSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

/**
 * The hub's socket lives in a directory of its own, made with mode 0700 and checked after it was
 * made, so no other local user can reach the socket whatever the process umask. The directory
 * name carries the pid: a later start removes the directories of processes that died without
 * cleaning up (SIGKILL). SIGTERM and SIGINT remove it too, without changing what the signal
 * does to the process.
 *
 * A worker whose /metrics port is fixed gets a stable directory instead, named by the port and
 * the user (`lkam-hub-port-<port>-u<uid>`): when its main process restarts, the job processes
 * it forked before keep the address they inherited, and find the new hub there.
 */
export interface SocketDir {
  readonly path: string;
  /** Whether it is the stable directory asked for (it then outlives this process). */
  readonly stable: boolean;
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

/**
 * A private socket directory under `parent`. With `stableName` (e.g. `port-9464`), the stable
 * directory of that name when it can be had: made now, or left by an earlier hub of this user
 * (private, its socket not answering: that hub is gone); otherwise, as without it, a new one
 * named by the pid.
 */
export async function createSocketDir(parent: string, stableName?: string): Promise<SocketDir> {
  await removeStaleSocketDirs(parent);
  const stable = stableName === undefined ? undefined : await claimStableDir(parent, stableName);
  const path = stable ?? mkdtempSync(join(parent, `${PREFIX}${process.pid}-`));
  if (!stable) {
    try {
      assertPrivateDir(path);
    } catch (error) {
      rmSync(path, { recursive: true, force: true });
      throw error;
    }
  }
  const socketPath = join(path, SOCKET_NAME);
  let removed = false;
  const dir: SocketDir = {
    path,
    stable: stable !== undefined,
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

/** The name of a stable directory: the user's id in it, so two users never contend for one. */
export function stableDirName(stableName: string): string {
  return `${PREFIX}${stableName}-u${process.getuid?.() ?? 0}`;
}

/**
 * Makes the stable directory, or takes over the one an earlier hub left: only if it is private
 * and ours, and its socket (if any) no longer answers. `undefined` when it cannot be had (a
 * live hub uses it, or someone else made it): the caller falls back to a directory of its own.
 */
async function claimStableDir(parent: string, stableName: string): Promise<string | undefined> {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(stableName)) return undefined;
  const path = join(parent, stableDirName(stableName));
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  try {
    assertPrivateDir(path);
    if ([...live].some((d) => d.path === path)) return undefined;
    const socketPath = join(path, SOCKET_NAME);
    if (await answers(socketPath)) return undefined;
    rmSync(socketPath, { force: true }); // what a killed hub left
    return path;
  } catch {
    return undefined;
  }
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
