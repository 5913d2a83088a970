/**
 * `npm run bench -- audio [--sizes=1,10,25] [--blocks=2] [--seconds=20] [--vad=bundled|silero]`:
 * what the audio path costs (issue 17), written to docs/BENCHMARKS.md between the audio markers
 * (`npm run bench -- core` keeps that section).
 *
 * - per frame (bench/audio-frame.ts): the input and the output probe on real 10 ms frames,
 *   beside the framework's own per-frame work in the same run (Silero VAD, a frame's copy);
 * - per worker (bench/audio-worker.ts): the process's CPU with 1, 10 and 25 real voice sessions
 *   hearing recorded speech in real time, with and without attachMetrics, ABBA.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import type { AudioWorkerSize } from './audio-worker.js';

// the built package as it is now, for every run (bench/audio-plugin.ts)
const snapshot = new URL('../.cache/bench-dist-audio', import.meta.url).pathname;
rmSync(snapshot, { recursive: true, force: true });
cpSync(new URL('../dist', import.meta.url).pathname, snapshot, { recursive: true });
process.env.LK_BENCH_PLUGIN_DIR = snapshot;
const { audioPerFrame } = await import('./audio-frame.js');
const { audioWorker } = await import('./audio-worker.js');

export const AUDIO_START = '<!-- audio:start -->';
export const AUDIO_END = '<!-- audio:end -->';
const TARGET_RATIO = 1.02;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,10,25' },
    blocks: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '20' },
    vad: { type: 'string', default: 'bundled' },
    write: { type: 'boolean', default: true },
  },
});
const vadKind = values.vad === 'silero' ? 'silero' : 'bundled';
const sizes = values.sizes.split(',').map(Number);
const blocks = Number(values.blocks);
const measureMs = Number(values.seconds) * 1000;

const loadBefore = loadavg()[0]!;
console.error('audio: per frame …');
const frame = await audioPerFrame();
console.error('audio: worker CPU …');
const worker = await audioWorker({
  sizes,
  blocks,
  warmupMs: 5_000,
  measureMs,
  vad: vadKind,
  log: (line) => console.error(`  ${line}`),
});
const loadAfter = loadavg()[0]!;

const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;
const pct = (ns: number) => `${((ns / 10_000_000) * 100).toFixed(2)}%`;
const inputNs = frame.input.with - frame.input.without;
const outputNs = frame.output.with - frame.output.without;
const [silero, bundled] = frame.vad;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
const ratioOf = (s: AudioWorkerSize) => mean(s.with) / mean(s.without);
/** Met or missed only when the process kept up with real time and at least two ABBA blocks
 * agree; otherwise the run says why it cannot tell. */
const verdict = (s: AudioWorkerSize) => {
  const lag = Math.max(s.loopDelayP99Ms.without, s.loopDelayP99Ms.with);
  if (lag > 200)
    return `not measured: the machine did not carry them (event-loop delay p99 up to ${(lag / 1000).toFixed(1)} s)`;
  if (s.blockRatios.length < 2) return `not resolved: one ABBA block (${ratioOf(s).toFixed(3)})`;
  if (s.blockRatios.every((r) => r <= TARGET_RATIO)) return 'met';
  if (s.blockRatios.every((r) => r > TARGET_RATIO)) return 'missed';
  return `not resolved at this load (mean ${ratioOf(s).toFixed(3)})`;
};
const vadName =
  vadKind === 'silero'
    ? '@livekit/agents-plugin-silero (one `VAD.load()` shared, a stream per session)'
    : 'the framework’s bundled Silero `inference.VAD` (an AgentSession’s default)';

const section = `## The audio path (issue 17)

\`npm run bench -- audio\` (bench/audio.bench.ts) on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'},
${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. Load average ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after${
  Math.max(loadBefore, loadAfter) > cpus().length
    ? ': the machine was shared with other work, so absolute times are upper bounds; compare the figures of the same run'
    : ''
}.

### Per 10 ms frame

The probes read every frame a session receives and sends. Real audio: the five recorded
utterances of examples/assets (16 kHz mono speech, 800 ms pauses) as 10 ms frames for the input,
the same speech at 24 kHz as the agent's output (one playback segment per utterance). The
probes' figures are the difference between two \`voice.AgentSession\`s, one with
\`attachMetrics\` (the built package), reading the same frames through
\`session.input.audio.stream\` and handing them to \`session.output.audio.captureFrame\`;
${frame.framesPerRound} frames a round, medians of ${frame.rounds} rounds, alternating with and without.

| per 10 ms frame | time | share of one core per session |
| --- | --- | --- |
| baseline: a copy of the frame (a new \`AudioFrame\` of the same samples) | ${us(frame.copy)} | ${pct(frame.copy)} |
| framework: one frame through the session's input stream (without the plugin) | ${us(frame.input.without)} | ${pct(frame.input.without)} |
| framework: ${silero!.name}, CPU (wall ${us(silero!.wallNs)}) | ${us(silero!.cpuNs)} | ${pct(silero!.cpuNs)} |
| framework: ${bundled!.name}, CPU (wall ${us(bundled!.wallNs)}) | ${us(bundled!.cpuNs)} | ${pct(bundled!.cpuNs)} |
| plugin: input probe (its pass-through layer and the end-of-speech detector) | ${us(inputNs)} | ${pct(inputNs)} |
| … of which the end-of-speech detector alone | ${us(frame.input.detectorAlone)} | ${pct(frame.input.detectorAlone)} |
| plugin: output probe (the sink's wrapped \`captureFrame\`) | ${us(outputNs)} | ${pct(outputNs)} |

The input probe costs ${(inputNs / bundled!.cpuNs).toFixed(2)} × the bundled VAD's inference per frame and ${(inputNs / silero!.cpuNs).toFixed(2)} × the Silero
plugin's; the output probe ${(outputNs / bundled!.cpuNs).toFixed(2)} × the bundled VAD's. The VAD figures are the process's CPU time per frame pushed
(the inference runs on ONNX Runtime's threads; its 32 ms windows are spread over the frames). The
output probe reads a segment's frames only until its first audible one (${frame.output.segments} segments here),
so most frames cost it only the wrapper's call.

### A worker's CPU with real voice sessions

${sizes.join(', ')} \`voice.AgentSession\`s in one process (bench/audio-worker-job.ts, a fresh process
per run), each hearing the recorded utterances in real time through a microphone double (10 ms
frames, a ${'2.5'} s pause after each for the answer) and answering: ${vadName},
an STT that listens to the audio (test/support/fake-stt.ts), a scripted LLM (200 ms to the first
token) and a tone TTS played out in real time. With the plugin: \`attachMetrics\` on each session,
every default on. The process's CPU time (\`process.cpuUsage\`, all threads) over ${(measureMs / 1000).toFixed(0)} s of
audio after 5 s of warm-up, in ms per second (1 000 = one core); ${blocks} ABBA block${blocks > 1 ? 's' : ''} (without, with,
with, without) per size.

| sessions | CPU without: mean (range) | CPU with: mean (range) | ratio | per ABBA block | answers per run (without / with) | event-loop delay p99 (worst run) | load before → after |
| --- | --- | --- | --- | --- | --- | --- | --- |
${worker
  .map(
    (s) =>
      `| ${s.sessions} | ${mean(s.without).toFixed(0)} (${range(s.without)}) | ${mean(s.with).toFixed(0)} (${range(s.with)}) | ${ratioOf(s).toFixed(3)} | ${s.blockRatios.map((r) => r.toFixed(3)).join(', ')} | ${s.answered.without.toFixed(1)} / ${s.answered.with.toFixed(1)} | ${s.loopDelayP99Ms.without.toFixed(0)} / ${s.loopDelayP99Ms.with.toFixed(0)} ms | ${s.load.before.toFixed(1)} → ${s.load.after.toFixed(1)} |`,
  )
  .join('\n')}

Target ratio ≤ ${TARGET_RATIO}: ${worker
  .map((s) => `${s.sessions} session${s.sessions > 1 ? 's' : ''} **${verdict(s)}**`)
  .join(', ')}. An event-loop delay p99 above a frame's 10 ms means the process did not keep up with
real time in that run (the microphone double then delivers the late frames at once): the
machine did not carry that many sessions, and its CPU figures describe an overloaded process.
${worker.some((s) => s.failures > 0) ? `Runs that failed or timed out and were run again: ${worker.map((s) => `${s.failures} at ${s.sessions}`).join(', ')}. ` : ''}With the plugin its sessions recorded ${worker.map((s) => s.measuredTurns).join(', ')} turns in all (the probes and the turn
tracker were working).`;

console.log(section);
if (values.write) {
  const file = new URL('../docs/BENCHMARKS.md', import.meta.url);
  const text = readFileSync(file, 'utf8');
  const block = `${AUDIO_START}\n${section}\n${AUDIO_END}`;
  const i = text.indexOf(AUDIO_START);
  const j = text.indexOf(AUDIO_END);
  const profile = text.indexOf('<!-- profile:start -->');
  const next =
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + AUDIO_END.length)
      : profile >= 0
        ? `${text.slice(0, profile)}${block}\n\n${text.slice(profile)}`
        : `${text.trimEnd()}\n\n${block}\n`;
  const { format, resolveConfig } = await import('prettier');
  writeFileSync(
    file,
    await format(next, { ...(await resolveConfig(file)), filepath: file.pathname }),
  );
}
process.exit(0);
