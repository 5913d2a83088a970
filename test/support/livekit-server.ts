/**
 * A real LiveKit server (scripts/ensure-livekit-server.sh finds or builds it) in dev mode, bound
 * to loopback only: signalling on a free TCP port, WebRTC media over one free UDP port on
 * 127.0.0.1, and no ICE/TCP, TURN or STUN. Nothing it does leaves the machine.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { killOnExit } from './kill-on-exit.js';
import { freePort } from './prometheus-server.js';

const execFileAsync = promisify(execFile);
const ENSURE_SCRIPT = fileURLToPath(
  new URL('../../scripts/ensure-livekit-server.sh', import.meta.url),
);

export interface LiveKitServer {
  /** Signalling URL for clients and agent workers, e.g. `ws://127.0.0.1:41234`. */
  url: string;
  apiKey: string;
  apiSecret: string;
  pid: number;
  /** The one UDP port (on 127.0.0.1) its WebRTC media uses. */
  udpPort: number;
  /** Where its log goes (stdout and stderr). */
  logPath: string;
  /** The log so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. Idempotent. */
  stop(): Promise<void>;
}

export interface StartLiveKitServerOptions {
  /** Directory for the log file (`livekit-server.log`); default: a temporary directory. */
  logDir?: string;
  /** How long to wait for the server to answer; default 20 s. */
  readyTimeoutMs?: number;
  /**
   * The address its ICE candidates advertise (its media still listens on 127.0.0.1). Another
   * loopback address, e.g. `127.0.0.2`, sends every client's media through a relay listening
   * there at `udpPort` (see udp-delay-relay.ts). Default `127.0.0.1`.
   */
  nodeIp?: string;
  /**
   * The signalling port, media UDP port and API secret of an earlier server, to start it again
   * where its clients reconnect (a restart). Default: free ports and a new secret.
   */
  again?: Pick<LiveKitServer, 'url' | 'udpPort' | 'apiSecret'>;
}

/**
 * Path of the livekit-server binary. The first run on a machine without one builds it (about 5
 * minutes), so this waits up to 15 minutes.
 */
export async function ensureLiveKitServer(): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bash', [ENSURE_SCRIPT], {
      timeout: 15 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const path = stdout.trim().split('\n').at(-1);
    if (!path) throw new Error('printed no path');
    return path;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`scripts/ensure-livekit-server.sh failed: ${e.stderr || e.message}`);
  }
}

/** A free UDP port on 127.0.0.1 (closed again at once, for the server to bind next). */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', resolve);
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * Starts a dev-mode LiveKit server on free loopback ports and waits until it answers HTTP.
 * Retries with other ports if one was taken between choosing and binding it.
 */
export async function startLiveKitServer(
  options: StartLiveKitServerOptions = {},
): Promise<LiveKitServer> {
  const binary = await ensureLiveKitServer();
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(binary, options);
    } catch (error) {
      lastError = error;
      if (!String(error).includes('address already in use')) break;
    }
  }
  throw lastError;
}

async function startOnce(
  binary: string,
  options: StartLiveKitServerOptions,
): Promise<LiveKitServer> {
  const dir = mkdtempSync(join(tmpdir(), 'lkam-livekit-'));
  const logDir = options.logDir ?? dir;
  await mkdir(logDir, { recursive: true });
  const logPath = join(logDir, 'livekit-server.log');
  const again = options.again;
  const [port, udpPort] = again
    ? [Number(new URL(again.url).port), again.udpPort]
    : [await freePort(), await freeUdpPort()];
  const apiKey = 'devkey';
  const apiSecret = again?.apiSecret ?? randomBytes(24).toString('hex');
  // Field names: pkg/config/config.go of livekit-server v1.13.5 and rtcconfig/config.go of
  // livekit/mediatransportutil. With node_ip set and no STUN, the server advertises 127.0.0.1;
  // `ips` plus the loopback candidate make its UDP socket listen on 127.0.0.1 only.
  const config = [
    `port: ${port}`,
    'rtc:',
    `  udp_port: ${udpPort}`,
    '  tcp_port: 0',
    '  use_external_ip: false',
    '  enable_loopback_candidate: true',
    '  ips:',
    '    includes: [127.0.0.1/32]',
    // behind a relay, the server must not check the clients' own addresses (a full ICE agent
    // would, and find a direct path around the relay); an ICE-lite one only answers
    ...(options.nodeIp ? ['  use_ice_lite: true'] : []),
    'keys:',
    `  ${apiKey}: ${apiSecret}`,
    'logging:',
    '  level: info',
    '',
  ].join('\n');
  const configPath = join(dir, 'livekit.yaml');
  writeFileSync(configPath, config);

  const proc = spawn(
    binary,
    [
      '--dev',
      '--config',
      configPath,
      '--bind',
      '127.0.0.1',
      '--node-ip',
      options.nodeIp ?? '127.0.0.1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const forget = killOnExit(() => proc.kill('SIGKILL'));
  let output = '';
  const file = createWriteStream(logPath);
  file.write(
    `# ${binary} --dev, port ${port}, udp ${udpPort}\n${config.replace(apiSecret, '…')}\n`,
  );
  const onData = (d: Buffer) => {
    output += d.toString();
    file.write(d);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      forget();
      resolve();
    });
    proc.once('error', (error) => {
      output += `\nspawn failed: ${error.message}\n`;
      resolve();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => file.end(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    })());

  const server: LiveKitServer = {
    url: `ws://127.0.0.1:${port}`,
    apiKey,
    apiSecret,
    pid: proc.pid ?? -1,
    udpPort,
    logPath,
    log: () => output,
    stop,
  };

  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
      await stop();
      throw new Error(`livekit-server exited before it was ready; its log:\n${output}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`livekit-server did not answer in ${timeoutMs} ms; its log:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Where a test's artifacts go: test-artifacts/<name>/ at the repository root. */
export function artifactsDir(name: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts', name);
}
