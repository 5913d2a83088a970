/**
 * `npm run bench [-- <section>… [options]]`: runs the benchmark sections, each in its own
 * process, and each writes its part of docs/BENCHMARKS.md (keeping the others).
 *
 * - `core` (bench/core.bench.ts, about 2 min): per event, memory, hub, scrape, turn latency,
 *   publishing;
 * - `audio` (bench/audio.bench.ts, about 8 min with the defaults): the probes per frame and a
 *   worker's CPU with 1, 10 and 25 voice sessions; its options (`--sizes=1,10`, `--blocks=2`,
 *   `--seconds=20`, `--vad=bundled|silero`) are passed on.
 *
 * Without a section name, all of them, in this order.
 */
import { spawnSync } from 'node:child_process';

const SECTIONS: Record<string, string[]> = {
  core: ['--expose-gc', '--import', 'tsx', 'bench/core.bench.ts'],
  audio: ['--import', 'tsx', 'bench/audio.bench.ts'],
};

const args = process.argv.slice(2);
const named = args.filter((a) => !a.startsWith('-'));
const options = args.filter((a) => a.startsWith('-'));
const unknown = named.filter((n) => !(n in SECTIONS));
if (unknown.length > 0) {
  console.error(
    `unknown bench section ${unknown.join(', ')}: one of ${Object.keys(SECTIONS).join(', ')}`,
  );
  process.exit(2);
}
for (const name of named.length > 0 ? named : Object.keys(SECTIONS)) {
  const argv = [...SECTIONS[name]!, ...(name === 'audio' ? options : [])];
  const { status } = spawnSync(process.execPath, argv, { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
