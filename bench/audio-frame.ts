/**
 * What the audio path costs per 10 ms frame, against the framework's own per-frame work measured
 * in the same run. Real audio (bench/audio-clips.ts), real framework objects:
 *
 * - input: two `voice.AgentSession`s (not started: nothing else reads their input) whose
 *   `input.audio` is a source of recorded 16 kHz frames; attachMetrics (the built package) on one.
 *   Per frame, one read of `session.input.audio.stream`, as the session's activity reads it; the
 *   difference between the two is what the input probe adds (its pass-through layer and the
 *   end-of-speech detector);
 * - output: two sessions whose `output.audio` is a sink (a framework `AudioOutput`), attachMetrics
 *   on one; per frame, one `captureFrame` of recorded speech at 24 kHz, a playback segment per
 *   utterance (flushed, then finished, as a sink reports it); the difference is the output probe;
 * - the framework's own work on the same frames: Silero VAD's inference
 *   (@livekit/agents-plugin-silero, and the framework's bundled `inference.VAD`, the default VAD
 *   of an AgentSession), per frame pushed; and a plain copy of the frame (a new AudioFrame of the
 *   same samples), the least any step that passes frames on does.
 *
 * Rounds alternate with and without the plugin; medians. VAD runs asynchronously (ONNX Runtime's
 * own threads), so its figure is the process's CPU time per frame as well as wall time.
 */
import { inference, voice, VADEventType, type VAD } from '@livekit/agents';
import { VAD as SileroVAD } from '@livekit/agents-plugin-silero';
import { AudioFrame } from '@livekit/rtc-node';
import { ReadableStream, type ReadableStreamDefaultController } from 'node:stream/web';
import { ensureFrameworkLogger } from '../test/support/logging.js';
import { VoiceEndDetector } from '../src/heard/voice-end-detector.js';
import {
  INPUT_RATE,
  OUTPUT_RATE,
  conversation,
  frames,
  resample,
  utterances,
} from './audio-clips.js';
import { plugin } from './audio-plugin.js';

ensureFrameworkLogger();

export interface AudioFrameResult {
  /** Frames of real audio per round; rounds per figure. */
  framesPerRound: number;
  rounds: number;
  /** Median ns per frame. */
  input: { without: number; with: number; detectorAlone: number };
  output: { without: number; with: number; segments: number };
  copy: number;
  vad: Array<{ name: string; wallNs: number; cpuNs: number; windows: number }>;
}

/** A microphone: the frames a round reads are enqueued at once, then read through the session.
 * (An always-ready pull source would starve the event loop: the framework's input stream pumps
 * what is ready without yielding.) */
class FrameSource extends voice.AudioInput {
  private controller!: ReadableStreamDefaultController<AudioFrame>;
  private next = 0;
  constructor(private readonly all: AudioFrame[]) {
    super();
    this.multiStream.addInputStream(
      new ReadableStream<AudioFrame>({ start: (c) => void (this.controller = c) }),
    );
  }
  enqueue(n: number): void {
    for (let i = 0; i < n; i++) this.controller.enqueue(this.all[this.next++ % this.all.length]!);
  }
}

/** A sink that takes every frame at once, as the framework's outputs are written. */
class Sink extends voice.AudioOutput {
  constructor() {
    super(OUTPUT_RATE);
  }
  finish(): void {
    this.onPlaybackFinished({ playbackPosition: 0, interrupted: false });
  }
  clearBuffer(): void {}
}

function bareSession(): voice.AgentSession {
  return new voice.AgentSession({
    vad: null,
    userAwayTimeout: null,
    turnHandling: { turnDetection: null },
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function inputPath(all: AudioFrame[], n: number, rounds: number) {
  const runtime = plugin.createMetricsRuntime({ hub: false });
  const make = (attach: boolean) => {
    const session = bareSession();
    const source = new FrameSource(all);
    session.input.audio = source;
    const metrics = attach ? plugin.attachMetrics(session, { runtime }) : undefined;
    return { metrics, source, reader: session.input.audio!.stream.getReader() };
  };
  const without = make(false);
  const withPlugin = make(true);
  const round = async ({ source, reader }: typeof without) => {
    source.enqueue(n);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await reader.read();
    return Number(process.hrtime.bigint() - start) / n;
  };
  await round(without); // warm up
  await round(withPlugin);
  const times = { without: [] as number[], with: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    // ABBA: drift in the machine's load falls on both alike
    const order = r % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const);
    for (const which of order) {
      times[which].push(await round(which === 'with' ? withPlugin : without));
    }
  }
  const health = withPlugin.metrics!.summary().health.disabledFeatures;
  if (Object.keys(health).length > 0) throw new Error(`probe off: ${JSON.stringify(health)}`);
  await withPlugin.metrics!.close();
  return { without: median(times.without), with: median(times.with) };
}

function detectorAlone(all: AudioFrame[], n: number, rounds: number): number {
  const detector = new VoiceEndDetector();
  let t = 0;
  const times: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) detector.frame(all[i % all.length]!, (t += 10));
    if (r > 0) times.push(Number(process.hrtime.bigint() - start) / n); // round 0 warms up
  }
  return median(times);
}

async function outputPath(segments: AudioFrame[][], n: number, rounds: number) {
  const runtime = plugin.createMetricsRuntime({ hub: false });
  const make = (attach: boolean) => {
    const session = bareSession();
    const sink = new Sink();
    session.output.audio = sink;
    const metrics = attach ? plugin.attachMetrics(session, { runtime }) : undefined;
    return { metrics, sink };
  };
  const without = make(false);
  const withPlugin = make(true);
  let audible = 0;
  withPlugin.metrics!.on('turn', () => {});
  const round = async (sink: Sink) => {
    let done = 0;
    const start = process.hrtime.bigint();
    for (let s = 0; done < n; s++) {
      const segment = segments[s % segments.length]!;
      for (const frame of segment) {
        // as the framework's forwarding does: each frame awaited before the next
        await sink.captureFrame(frame);
        if (++done === n) break;
      }
      sink.flush();
      sink.finish();
      audible++;
    }
    return Number(process.hrtime.bigint() - start) / n;
  };
  await round(without.sink);
  await round(withPlugin.sink);
  const times = { without: [] as number[], with: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const);
    for (const which of order) {
      times[which].push(await round(which === 'with' ? withPlugin.sink : without.sink));
    }
  }
  await withPlugin.metrics!.close();
  return { without: median(times.without), with: median(times.with), segments: audible };
}

function copyFrame(all: AudioFrame[], n: number, rounds: number): number {
  const times: number[] = [];
  let keep: AudioFrame | undefined;
  for (let r = 0; r <= rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const f = all[i % all.length]!;
      keep = new AudioFrame(f.data.slice(), f.sampleRate, f.channels, f.samplesPerChannel);
    }
    if (r > 0) times.push(Number(process.hrtime.bigint() - start) / n);
  }
  if (keep?.samplesPerChannel !== all[0]!.samplesPerChannel) throw new Error('copy lost');
  return median(times);
}

/** `n` frames fed to a fresh stream of `vad` (as a session feeds it: its input stream), timed
 * until the inference of the last whole window is done. */
async function vadRound(vad: VAD, all: AudioFrame[], n: number) {
  const stream = vad.stream();
  const samples = n * all[0]!.samplesPerChannel;
  let windows = 0;
  let windowSamples = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  let i = 0;
  stream.updateInputStream(
    new ReadableStream<AudioFrame>({
      pull: (controller) => (i < n ? controller.enqueue(all[i++ % all.length]!) : undefined),
    }),
  );
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      stream.next(),
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 5_000))),
    ]);
    clearTimeout(timer);
    if (!next || next.done) throw new Error(`${vad.label}: stalled after ${windows} windows`);
    if (next.value.type !== VADEventType.INFERENCE_DONE) continue;
    windows++;
    // each event says how far it has read; the VAD keeps the last window until more audio comes
    windowSamples ||= next.value.samplesIndex;
    if (windowSamples > 0 && (windows + 2) * windowSamples > samples) break;
  }
  const wallNs = Number(process.hrtime.bigint() - start) / n;
  const used = process.cpuUsage(cpu);
  stream.close();
  return { wallNs, cpuNs: ((used.user + used.system) * 1000) / n, windows };
}

async function vadPerFrame(name: string, vad: VAD, all: AudioFrame[], n: number, rounds: number) {
  await vadRound(vad, all, Math.min(n, 500)); // loads the model, warms up
  const results = [];
  for (let r = 0; r < rounds; r++) results.push(await vadRound(vad, all, n));
  return {
    name,
    wallNs: median(results.map((x) => x.wallNs)),
    cpuNs: median(results.map((x) => x.cpuNs)),
    windows: results[0]!.windows,
  };
}

export async function audioPerFrame(n = 6_000, rounds = 9): Promise<AudioFrameResult> {
  const clips = await utterances();
  const input = frames(conversation(clips), INPUT_RATE);
  // an agent's answer: each utterance as one TTS segment at 24 kHz
  const output = clips.map((c) => frames(resample(c, INPUT_RATE, OUTPUT_RATE), OUTPUT_RATE));
  const inputCost = await inputPath(input, n, rounds);
  const detector = detectorAlone(input, n, rounds);
  const outputCost = await outputPath(output, n, rounds);
  const copy = copyFrame(input, n, rounds);
  const vadRounds = Math.max(3, Math.floor(rounds / 3));
  const silero = await vadPerFrame(
    '@livekit/agents-plugin-silero `VAD`',
    await SileroVAD.load(),
    input,
    n,
    vadRounds,
  );
  const bundled = await vadPerFrame(
    'the framework’s bundled `inference.VAD` (Silero; an AgentSession’s default)',
    new inference.VAD(),
    input,
    n,
    vadRounds,
  );
  return {
    framesPerRound: n,
    rounds,
    input: { ...inputCost, detectorAlone: detector },
    output: outputCost,
    copy,
    vad: [silero, bundled],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await audioPerFrame(), null, 2));
  process.exit(0);
}
