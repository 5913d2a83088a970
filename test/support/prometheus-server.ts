import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrometheusTools } from './prometheus-tools.js';

export interface InstantSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export interface ActiveTarget {
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  labels: Record<string, string>;
}

/** A free TCP port on 127.0.0.1 (closed again at once, for a server that binds it next). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

/**
 * A real Prometheus server (Debian's binary, via scripts/ensure-prometheus.sh) bound to
 * 127.0.0.1, with a throwaway TSDB and a generated config scraping `targets` every
 * `intervalSeconds`. `stop()` ends it and removes its data.
 */
export class PrometheusServer {
  private output = '';

  private constructor(
    readonly url: string,
    private readonly proc: ChildProcess,
    private readonly dir: string,
  ) {
    proc.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  static async start(targets: string[], intervalSeconds = 1): Promise<PrometheusServer> {
    const { prometheus } = ensurePrometheusTools();
    const dir = mkdtempSync(join(tmpdir(), 'lkam-prometheus-'));
    const config = [
      'global:',
      `  scrape_interval: ${intervalSeconds}s`,
      `  scrape_timeout: ${intervalSeconds}s`,
      'scrape_configs:',
      '  - job_name: agents',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'prometheus.yml'), config);
    const port = await freePort();
    const proc = spawn(
      prometheus,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.console.templates=${join(dir, 'consoles')}`,
        `--web.console.libraries=${join(dir, 'console_libraries')}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, proc, dir);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`prometheus exited:\n${server.output}`);
      try {
        if ((await fetch(`${server.url}/-/ready`)).status === 200) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`prometheus not ready in 20 s:\n${server.output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** An instant query; `time` in epoch seconds (default: now). */
  async query(expr: string, time?: number): Promise<InstantSample[]> {
    return (await this.api('query', expr, time)) as InstantSample[];
  }

  /** A range query (`/api/v1/query_range`); times in epoch seconds, `step` in seconds. */
  async queryRange(expr: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
    const params = { query: expr, start: String(start), end: String(end), step: String(step) };
    return ((await this.get('query_range', params, expr)) as { result: RangeSeries[] }).result;
  }

  /** The values of `label` on the series matching `match` (what Grafana's label_values reads). */
  async labelValues(label: string, match: string): Promise<string[]> {
    const params = new URLSearchParams({ 'match[]': match });
    return (await this.get(`label/${encodeURIComponent(label)}/values`, params, match)) as string[];
  }

  /** A range selector evaluated as an instant query: the raw samples, with their timestamps. */
  async rawSamples(selector: string, time?: number): Promise<RangeSeries[]> {
    return (await this.api('query', selector, time)) as RangeSeries[];
  }

  /** The value of a query that returns one sample, or undefined when it returns none. */
  async scalar(expr: string, time?: number): Promise<number | undefined> {
    const result = await this.query(expr, time);
    if (result.length > 1) throw new Error(`${expr}: ${result.length} samples`);
    return result[0] ? Number(result[0].value[1]) : undefined;
  }

  async targets(): Promise<ActiveTarget[]> {
    const res = await fetch(`${this.url}/api/v1/targets?state=active`);
    const body = (await res.json()) as { data: { activeTargets: ActiveTarget[] } };
    return body.data.activeTargets;
  }

  /** Polls `check` until it returns something other than undefined. */
  async until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async api(endpoint: string, expr: string, time?: number): Promise<unknown> {
    const params: Record<string, string> = { query: expr };
    if (time !== undefined) params.time = String(time);
    return ((await this.get(endpoint, params, expr)) as { result: unknown }).result;
  }

  private async get(
    endpoint: string,
    params: Record<string, string> | URLSearchParams,
    what: string,
  ): Promise<unknown> {
    const res = await fetch(`${this.url}/api/v1/${endpoint}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: unknown };
    if (body.status !== 'success') throw new Error(`${what}: ${body.error ?? res.status}`);
    return body.data;
  }
}
