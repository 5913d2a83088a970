/**
 * promtool and prometheus for the tests, from scripts/ensure-prometheus.sh: on PATH, or Debian's
 * package unpacked into .cache/prometheus/ on first use (it needs apt-get, as in CI).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface PrometheusTools {
  binDir: string;
  promtool: string;
  prometheus: string;
  /** promtool's version, e.g. `2.42.0+ds`. */
  version: string;
}

let tools: PrometheusTools | undefined;

/** Finds or unpacks the binaries (once per process); throws with the script's message. */
export function ensurePrometheusTools(): PrometheusTools {
  if (tools) return tools;
  const out = execFileSync('bash', [join(repoRoot, 'scripts/ensure-prometheus.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    // The first run downloads a ~19 MB package; later runs return at once.
    timeout: 300_000,
  });
  const binDir = out.trim().split('\n').pop()!;
  const promtool = join(binDir, 'promtool');
  const version = /version (\S+)/.exec(execFileSync(promtool, ['--version'], { encoding: 'utf8' }));
  tools = {
    binDir,
    promtool,
    prometheus: join(binDir, 'prometheus'),
    version: version?.[1] ?? 'unknown',
  };
  return tools;
}

export interface ToolRun {
  status: number;
  /** stdout and stderr together, for assertion messages. */
  output: string;
}

/** Runs promtool without throwing, so a test can assert on its exit code and say why. */
export function promtool(args: string[], cwd?: string): ToolRun {
  const run = spawnSync(ensurePrometheusTools().promtool, args, {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error) throw run.error;
  return { status: run.status ?? 1, output: `${run.stdout}${run.stderr}` };
}

/** `promtool check metrics` on an exposition (read on stdin): its exit status and findings. */
export function promtoolCheckMetrics(exposition: string): ToolRun {
  const run = spawnSync(ensurePrometheusTools().promtool, ['check', 'metrics'], {
    input: exposition,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error) throw run.error;
  return { status: run.status ?? 1, output: `${run.stdout}${run.stderr}`.trim() };
}
