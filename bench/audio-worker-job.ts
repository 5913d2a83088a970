/**
 * One run of the worker CPU benchmark (forked by bench/audio-worker.ts): `sessions` real
 * voice.AgentSessions in this process, each hearing recorded speech in real time through a
 * microphone double (ScriptedAudioInput, 10 ms frames) and answering it: Silero VAD (the
 * framework's bundled `inference.VAD`, an AgentSession's default, or
 * @livekit/agents-plugin-silero), an STT that listens to the audio (EnergySTT), a scripted LLM and
 * a tone TTS, played out in real time (RecordingAudioOutput). With `plugin`, attachMetrics on
 * each. After a warm-up, the process's CPU time (process.cpuUsage: every thread, ONNX Runtime's
 * too) over a fixed stretch of audio is sent to the parent.
 */
import { initializeLogger, type VAD } from '@livekit/agents';
import { VAD as SileroVAD } from '@livekit/agents-plugin-silero';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EnergySTT } from '../test/support/fake-stt.js';
import { ScriptedLLM } from '../test/support/scripted-llm.js';
import { type VoiceHarness, startVoiceSession } from '../test/support/session-harness.js';
import { utterances } from './audio-clips.js';
import { plugin as built } from './audio-plugin.js';

export interface AudioWorkerRun {
  sessions: number;
  plugin: boolean;
  vad: 'bundled' | 'silero';
  warmupMs: number;
  measureMs: number;
}

export interface AudioWorkerResult extends AudioWorkerRun {
  /** Process CPU time (user + system) over the measured stretch, and its wall time. */
  cpuMs: number;
  wallMs: number;
  /** Turns the agents answered during the measured stretch (their playback segments). */
  answered: number;
  /** Event-loop delay over the measured stretch: above a frame's 10 ms, the process is late. */
  loopDelayP99Ms: number;
  /** Turns the plugin recorded in all (with the plugin), to show it measured. */
  measuredTurns?: number;
}

/** After each utterance, a pause long enough for the agent's answer (about 1.4 s of audio). */
const ANSWER_PAUSE_MS = 2_500;

initializeLogger({ pretty: false, level: 'silent' });
const run = JSON.parse(process.argv[2]!) as AudioWorkerRun;
const clips = await utterances();
const runtime = built.createMetricsRuntime({ hub: false });
const vad: VAD | undefined = run.vad === 'silero' ? await SileroVAD.load() : undefined;

const harnesses: VoiceHarness[] = [];
const metrics: Array<ReturnType<typeof built.attachMetrics>> = [];
let stopped = false;

async function talk(h: VoiceHarness, offset: number): Promise<void> {
  // sessions do not speak in lockstep: each starts at its own place in the recording
  await h.input.playSilence(150 + ((offset * 337) % 2_000));
  for (let i = offset; !stopped; i++) {
    await h.input.playPcm(clips[i % clips.length]!);
    await h.input.playSilence(ANSWER_PAUSE_MS);
  }
}

for (let i = 0; i < run.sessions; i++) {
  const h = await startVoiceSession({
    llm: new ScriptedLLM([], {
      fallback: { content: 'Sure, I can help you with that.', ttft: 200, duration: 300 },
    }),
    stt: new EnergySTT({ sttDelayMs: 150, transcripts: ['hello there'] }),
    ...(vad ? { vad } : {}),
    minEndpointingDelayMs: 300,
    beforeStart: (session) => {
      if (run.plugin) metrics.push(built.attachMetrics(session, { runtime }));
    },
  });
  harnesses.push(h);
  void talk(h, i).catch(() => {});
}

await new Promise((r) => setTimeout(r, run.warmupMs));
const segmentsBefore = harnesses.reduce((n, h) => n + h.output.segments.length, 0);
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
const cpu = process.cpuUsage();
const wall = performance.now();
await new Promise((r) => setTimeout(r, run.measureMs));
const used = process.cpuUsage(cpu);
const wallMs = performance.now() - wall;
delay.disable();
const answered = harnesses.reduce((n, h) => n + h.output.segments.length, 0) - segmentsBefore;
stopped = true;

const result: AudioWorkerResult = {
  ...run,
  cpuMs: (used.user + used.system) / 1000,
  wallMs,
  answered,
  loopDelayP99Ms: delay.percentile(99) / 1e6,
  ...(run.plugin ? { measuredTurns: metrics.reduce((n, m) => n + m.summary().turns, 0) } : {}),
};
process.send!(result, () => process.exit(0));
