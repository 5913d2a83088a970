/**
 * `npm run soak`: the soak of bench/soak-run.ts for 10 minutes (`--minutes N` or SOAK_MINUTES),
 * one sample a minute (`--sample-seconds N`), the first two minutes warm-up. Prints a row per
 * sample and exits non-zero when a criterion failed. `--write` puts the table into
 * docs/BENCHMARKS.md, between the soak markers (`npm run bench` keeps that section).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { type SoakResult, runSoak } from './soak-run.js';

export const SOAK_START = '<!-- soak:start -->';
export const SOAK_END = '<!-- soak:end -->';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    'sample-seconds': { type: 'string' },
    write: { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes ?? process.env.SOAK_MINUTES ?? 10);
const sampleMs = Number(values['sample-seconds'] ?? 60) * 1000;
if (!(minutes > 0) || !(sampleMs > 0)) throw new Error('--minutes and --sample-seconds: > 0');
const durationMs = minutes * 60_000;
const warmupMs = Math.min(2 * 60_000, durationMs / 3);

const loadBefore = loadavg();
console.log(
  `soak: ${minutes} min, a sample every ${sampleMs / 1000} s, warm-up ${warmupMs / 1000} s`,
);
const result = await runSoak({ durationMs, sampleMs, warmupMs, log: (l) => console.log(l) });
const loadAfter = loadavg();
const section = soakSection(result, loadBefore, loadAfter);
console.log(`\n${section}`);
if (values.write) {
  const file = new URL('../docs/BENCHMARKS.md', import.meta.url);
  const text = readFileSync(file, 'utf8');
  const block = `${SOAK_START}\n${section}\n${SOAK_END}`;
  const i = text.indexOf(SOAK_START);
  const j = text.indexOf(SOAK_END);
  const next =
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + SOAK_END.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  const { format, resolveConfig } = await import('prettier');
  writeFileSync(
    file,
    await format(next, { ...(await resolveConfig(file)), filepath: file.pathname }),
  );
  console.log(`written to ${file.pathname}`);
}
process.exit(result.failures.length === 0 ? 0 : 1);

function soakSection(r: SoakResult, before: number[], after: number[]): string {
  const o = r.options;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const rows = r.samples.map((s) => {
    const jobs = (k: 'heapUsed' | 'rss' | 'fds') => s.jobs.map((j) => j[k]);
    const range = (v: number[], f: (x: number) => string) =>
      `${f(Math.min(...v))}–${f(Math.max(...v))}`;
    return (
      `| ${(s.atMs / 60_000).toFixed(1)}${s.atMs < o.warmupMs ? ' (warm-up)' : ''} ` +
      `| ${mib(s.worker.heapUsed)} | ${mib(s.worker.rss)} | ${s.worker.fds} ` +
      `| ${range(jobs('heapUsed'), mib)} | ${range(jobs('rss'), mib)} | ${range(jobs('fds'), String)} ` +
      `| ${s.hubConnections} | ${s.series} | ${s.scrapeMs.toFixed(1)} ` +
      `| ${s.sessionsOpened} | ${s.turns} | ${s.turnsInMetrics} |`
    );
  });
  const f = r.final;
  return `## Soak

\`npm run soak\` (bench/soak.ts, bench/soak-run.ts, bench/soak-job.ts) on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores
(load average ${before[0]!.toFixed(1)} before, ${after[0]!.toFixed(1)} after: the machine was shared). A worker main
process serving /metrics (flush every ${o.flushMs} ms) and ${o.jobs} job processes, each running ${o.loops} real text-mode
\`voice.AgentSession\`s at a time with metrics attached (the framework's FakeLLM, TTFT ${o.ttftMs} ms), ${o.turnsPerSession} turns
per session ${o.thinkMs} ms apart, then closing it and opening the next, for ${(o.durationMs / 60_000).toFixed(1)} minutes. Heap after a
full GC; file descriptors from \`/proc/<pid>/fd\`; hub connections from \`/proc/net/unix\`; series are
the sample lines /metrics serves; turns are \`run()\`s the jobs completed and
\`lk_agents_llm_ttft_seconds_count\` on /metrics (one LLM request per turn).

| minute | worker heap MiB | worker RSS MiB | worker fds | job heap MiB | job RSS MiB | job fds | hub conns | series | scrape ms | sessions opened | turns run | turns in /metrics |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

After the jobs stopped: ${f.turns} turns run in ${f.sessions} sessions; /metrics counts ${f.turnsInMetrics} in
\`lk_agents_llm_ttft_seconds_count\` and ${f.llmRequests} in \`lk_agents_requests_total{component="llm"}\`.

Criterion (bench/soak-run.ts \`judge\`): after the warm-up (${(o.warmupMs / 1000).toFixed(0)} s) the samples split into an earlier
and a later half; per process, the later half's largest heap is within +10% + 1 MiB of the
earlier half's, RSS within +15% + 8 MiB, file descriptors within +2; the hub holds one
connection per job and /metrics the same number of series at every sample; /metrics never
counts more turns than ran, and every turn once the jobs stopped. Result: **${
    r.failures.length === 0 ? 'passed' : `failed: ${r.failures.join('; ')}`
  }**.`;
}
