/**
 * A real Prometheus 3 (built once from its Go module by scripts/ensure-prometheus3.sh) on
 * 127.0.0.1 with its OTLP receiver on (`--web.enable-otlp-receiver`): an OpenTelemetry SDK's
 * OTLP/HTTP exporter sends to `otlpMetricsUrl`, the tests read the result back through the HTTP
 * API. No scrape targets; a throwaway TSDB that `stop()` removes.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from './prometheus-tools.js';
import { type InstantSample, freePort } from './prometheus-server.js';

let binary: string | undefined;

/** The Prometheus 3 binary: built on first use (several minutes on 2 cores), cached after. */
export function ensurePrometheus3(): string {
  if (binary) return binary;
  const out = execFileSync('bash', [join(repoRoot, 'scripts/ensure-prometheus3.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    // a clean clone builds it here unless `pretest:integration` did already
    timeout: 30 * 60_000,
  });
  binary = out.trim().split('\n').pop()!;
  return binary;
}

/**
 * The `otlp:` section of its configuration. `UnderscoreEscapingWithSuffixes` (Prometheus's
 * default, spelled out) adds the unit and `_total` suffixes back to the names the plugin sends
 * (`lk_agents_llm_ttft` in `s` → `lk_agents_llm_ttft_seconds`), so OTLP series land under the
 * names `/metrics` serves; `promote_scope_metadata` puts the instrumentation scope on every
 * series (`otel_scope_name`, `otel_scope_version`).
 */
export const OTLP_CONFIG = [
  'otlp:',
  '  translation_strategy: UnderscoreEscapingWithSuffixes',
  '  promote_scope_metadata: true',
];

export class Prometheus3Server {
  private output = '';

  private constructor(
    readonly url: string,
    private readonly proc: ChildProcess,
    private readonly dir: string,
  ) {
    proc.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  /** Where an OTLP/HTTP metrics exporter sends (protobuf or JSON). */
  get otlpMetricsUrl(): string {
    return `${this.url}/api/v1/otlp/v1/metrics`;
  }

  /** What it logged (warnings and errors), for assertion messages. */
  get log(): string {
    return this.output;
  }

  static async start(): Promise<Prometheus3Server> {
    const prometheus = ensurePrometheus3();
    const dir = mkdtempSync(join(tmpdir(), 'lkam-prometheus3-'));
    writeFileSync(join(dir, 'prometheus.yml'), [...OTLP_CONFIG, ''].join('\n'));
    const port = await freePort();
    const proc = spawn(
      prometheus,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-otlp-receiver',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const server = new Prometheus3Server(`http://127.0.0.1:${port}`, proc, dir);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`prometheus 3 exited:\n${server.output}`);
      try {
        if ((await fetch(`${server.url}/-/ready`)).status === 200) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`prometheus 3 not ready in 30 s:\n${server.output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The Go module version it was built from (`go install` stamps no version into the binary). */
  static version(): string {
    try {
      return readFileSync(join(dirname(ensurePrometheus3()), 'VERSION'), 'utf8').trim();
    } catch {
      return execFileSync(ensurePrometheus3(), ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
    }
  }

  /** An instant query at now. */
  async query(expr: string): Promise<InstantSample[]> {
    const params = new URLSearchParams({ query: expr });
    const res = await fetch(`${this.url}/api/v1/query?${params}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { result: InstantSample[] };
    };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
    return body.data!.result;
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
}
