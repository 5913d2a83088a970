/**
 * A UDP relay that delays media on the loopback, for tests that need a slower network where the
 * kernel has no `netem` (this machine's kernel is built without CONFIG_NET_SCH_NETEM, so
 * `tc qdisc add ... netem` fails with "Specified qdisc kind is unknown").
 *
 * The LiveKit server listens for WebRTC media on one UDP port of 127.0.0.1 and, started with
 * `nodeIp: '127.0.0.2'`, advertises 127.0.0.2 in its ICE candidates (its NAT 1:1 rewrite). The
 * relay listens on 127.0.0.2 at the same port, so every client's media goes through it: each
 * client gets an upstream socket of its own towards the server, and every packet, both ways, is
 * held for the delay of its flow's class before it is forwarded.
 *
 * It runs as a child process (the test's event loop stalls must not add jitter), controlled over
 * stdin with one command per line:
 *   `delay <ms>`   from now on, hold every packet this long, each direction
 *   `flows`        the flows, and how late held packets went out (the relay's own jitter)
 * and reports on stdout, one JSON line per event (`ready`, `flow`, `ok`).
 *
 *   node --import tsx test/support/udp-delay-relay.ts <listenHost> <port> <targetHost>
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type Socket, createSocket } from 'node:dgram';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './kill-on-exit.js';

interface Flow {
  id: number;
  client: { address: string; port: number };
  upstream: Socket;
  firstAt: number;
  packets: number;
}

function runRelay(listenHost: string, port: number, targetHost: string): void {
  const out = (event: Record<string, unknown>) =>
    process.stdout.write(JSON.stringify(event) + '\n');
  const flows = new Map<string, Flow>();
  let delayMs = 0;
  // how late the held packets went out: the relay's own jitter, which the media's jitter
  // buffers answer by holding more
  const late = { n: 0, sumMs: 0, maxMs: 0 };
  const later = (ms: number, send: () => void) => {
    if (ms <= 0) return send();
    const due = performance.now() + ms;
    setTimeout(() => {
      const l = performance.now() - due;
      late.n++;
      late.sumMs += l;
      late.maxMs = Math.max(late.maxMs, l);
      send();
    }, ms);
  };
  const listen = createSocket('udp4');

  listen.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const upstream = createSocket('udp4');
      const f: Flow = {
        id: flows.size + 1,
        client: { address: rinfo.address, port: rinfo.port },
        upstream,
        firstAt: Date.now(),
        packets: 0,
      };
      upstream.on('message', (back) => {
        f.packets++;
        later(delayMs, () => listen.send(back, f.client.port, f.client.address));
      });
      upstream.bind(0, targetHost);
      flows.set(key, (flow = f));
      out({ type: 'flow', id: f.id, at: f.firstAt });
    }
    const f = flow;
    f.packets++;
    later(delayMs, () => f.upstream.send(msg, port, targetHost));
  });
  listen.bind(port, listenHost, () => out({ type: 'ready' }));

  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, a] = line.trim().split(/\s+/);
    if (cmd === 'delay' && a !== undefined && Number(a) >= 0) {
      delayMs = Number(a);
      out({ type: 'ok', cmd, ms: delayMs });
    } else if (cmd === 'flows') {
      out({
        type: 'ok',
        cmd,
        flows: [...flows.values()].map((f) => ({ id: f.id, packets: f.packets })),
        lateMs: {
          avg: late.n ? +(late.sumMs / late.n).toFixed(2) : 0,
          max: +late.maxMs.toFixed(1),
        },
      });
    } else {
      out({ type: 'error', line });
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

/** The relay as the test sees it. */
export class UdpDelayRelay {
  private readonly lines: Array<Record<string, unknown>> = [];
  private readonly waiters = new Set<() => void>();
  private readonly forget: () => void;

  private constructor(private readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.lines.push({ type: 'noise', line });
      }
      for (const w of this.waiters) w();
    });
    proc.stderr!.on('data', (d: Buffer) => this.lines.push({ type: 'stderr', text: String(d) }));
    this.forget = killOnExit(() => proc.kill('SIGKILL'));
  }

  /** Starts a relay on `listenHost:port` towards `targetHost:port`; resolves once it listens. */
  static async start(listenHost: string, port: number, targetHost: string): Promise<UdpDelayRelay> {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), listenHost, String(port), targetHost],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    // a network is punctual: on a busy machine the relay must not wait for a core
    try {
      if (proc.pid) setPriority(proc.pid, -15);
    } catch {
      // not root: it runs at normal priority, with more jitter under load
    }
    const relay = new UdpDelayRelay(proc);
    await relay.next((e) => e.type === 'ready', 10_000, 'the relay listening');
    return relay;
  }

  /** Flows (client sockets) seen so far, in order. */
  flows(): Array<{ id: number; at: number }> {
    return this.lines.filter((e) => e.type === 'flow') as Array<{ id: number; at: number }>;
  }

  async command(line: string): Promise<Record<string, unknown>> {
    const seen = this.lines.length;
    this.proc.stdin!.write(line + '\n');
    return this.next(
      (e, i) => i >= seen && (e.type === 'ok' || e.type === 'error'),
      5_000,
      `the relay's answer to "${line}"`,
    );
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
    this.forget();
  }

  private next(
    match: (e: Record<string, unknown>, index: number) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.lines.findIndex(match);
        if (i < 0) return;
        cleanup();
        const found = this.lines[i]!;
        if (found.type === 'error') reject(new Error(`relay: ${JSON.stringify(found)}`));
        else resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`timed out after ${timeoutMs} ms: ${what} (${JSON.stringify(this.lines)})`),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [listenHost, port, targetHost] = process.argv.slice(2);
  runRelay(listenHost!, Number(port), targetHost!);
}
