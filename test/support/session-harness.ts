import { type VAD, llm, type stt as sttNs, type tts, voice } from '@livekit/agents';
import { z } from 'zod';
import { RecordingAudioOutput, ScriptedAudioInput } from './audio-io.js';
import { SessionEventRecorder } from './event-recorder.js';
import { EnergySTT } from './fake-stt.js';
import { FakeTTS } from './fake-tts.js';
import { ensureFrameworkLogger } from './logging.js';

ensureFrameworkLogger();

export { silenceFrameworkLogs } from './logging.js';

export interface TestToolsOptions {
  /** How long getWeather's execution takes. */
  weatherDelayMs?: number;
  weatherResult?: string;
  /** How long failingTool runs before it throws. */
  failingDelayMs?: number;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * getWeather takes a known time and returns `weatherResult` (so the follow-up LLM request is
 * keyed by JSON.stringify(weatherResult)); failingTool always throws.
 */
export function createTestTools(options: TestToolsOptions = {}) {
  const weatherDelayMs = options.weatherDelayMs ?? 200;
  const weatherResult = options.weatherResult ?? 'sunny';
  const failingDelayMs = options.failingDelayMs ?? 0;
  return {
    getWeather: llm.tool({
      description: 'Get the current weather for a city.',
      parameters: z.object({ city: z.string() }),
      execute: async () => {
        await sleep(weatherDelayMs);
        return weatherResult;
      },
    }),
    failingTool: llm.tool({
      description: 'A tool that always fails.',
      parameters: z.object({}),
      execute: async () => {
        await sleep(failingDelayMs);
        throw new Error('failingTool exploded');
      },
    }),
  };
}

export interface HarnessSession {
  session: voice.AgentSession;
  agent: voice.Agent;
  recorder: SessionEventRecorder;
  /** Present when replies are spoken (voice mode, or text mode with a TTS). */
  output?: RecordingAudioOutput;
  /**
   * Closes the session and the harness's own I/O so none of our timers or streams outlive the
   * test. The process still lingers up to 5 s afterwards: the framework's Task.cancelAndWait
   * races each task against a delay() timer it never clears (2 s and 5 s ones on close). They
   * expire by themselves, so nothing here forces an exit.
   */
  close(): Promise<void>;
}

export interface TextHarnessOptions {
  llm: llm.LLM;
  /** With a TTS, replies are synthesized and played into a RecordingAudioOutput. */
  tts?: tts.TTS;
  tools?: llm.ToolContextLike;
  instructions?: string;
  sessionOptions?: Partial<voice.AgentSessionOptions>;
}

export interface TextHarness extends HarnessSession {
  /** Sends a typed user turn and waits for the whole reply (including tools and playout). */
  send(userInput: string): Promise<voice.testing.RunResult>;
}

/** Text input (session.run), optional spoken output; no VAD, STT or audio input. */
export async function startTextSession(options: TextHarnessOptions): Promise<TextHarness> {
  const session = new voice.AgentSession({
    llm: options.llm,
    tts: options.tts,
    vad: null,
    userAwayTimeout: null,
    turnHandling: { turnDetection: null },
    ...options.sessionOptions,
  });
  const agent = new voice.Agent({
    instructions: options.instructions ?? 'You are a test agent.',
    tools: options.tools,
  });
  const recorder = new SessionEventRecorder(session);
  let output: RecordingAudioOutput | undefined;
  if (options.tts) {
    output = new RecordingAudioOutput();
    session.output.audio = output;
  }
  await session.start({ agent });

  return {
    session,
    agent,
    recorder,
    output,
    send: (userInput) => session.run({ userInput }).wait(),
    close: async () => {
      try {
        await session.close();
      } finally {
        output?.close();
        recorder.detach();
      }
    },
  };
}

export interface VoiceHarnessOptions<S extends sttNs.STT = EnergySTT, T extends tts.TTS = FakeTTS> {
  /** A realtime model replaces the STT, LLM and TTS pipeline. */
  llm: llm.LLM | llm.RealtimeModel;
  tts?: T;
  stt?: S;
  /** undefined keeps the framework's bundled Silero VAD; pass a VAD to override. */
  vad?: VAD;
  tools?: llm.ToolContextLike;
  instructions?: string;
  /** Silence after VAD end of speech before the turn is committed (framework default 500). */
  minEndpointingDelayMs?: number;
  maxEndpointingDelayMs?: number;
  /** Framework default is on; the LLM then starts at the final transcript. */
  preemptiveGeneration?: boolean;
  /** User speech needed to interrupt the agent (framework default 500). */
  minInterruptionDurationMs?: number;
  frameMs?: 10 | 20;
  outputBufferMs?: number;
  sessionOptions?: Partial<voice.AgentSessionOptions>;
  /** Called with the session before `session.start()` (its input and output are set). */
  beforeStart?: (session: voice.AgentSession) => void;
}

export interface VoiceHarness<
  S extends sttNs.STT = EnergySTT,
  T extends tts.TTS = FakeTTS,
> extends HarnessSession {
  input: ScriptedAudioInput;
  output: RecordingAudioOutput;
  stt: S;
  tts: T;
}

/**
 * Full voice pipeline: ScriptedAudioInput -> bundled VAD + EnergySTT -> LLM -> FakeTTS ->
 * RecordingAudioOutput. Turn detection is pinned to 'vad' because the default audio
 * end-of-turn model needs a job's inference process and otherwise degrades to a constant
 * prediction; AEC warmup is off so an early barge-in is not swallowed; user-away is off so no
 * timer outlives the test.
 */
export async function startVoiceSession<
  S extends sttNs.STT = EnergySTT,
  T extends tts.TTS = FakeTTS,
>(options: VoiceHarnessOptions<S, T>): Promise<VoiceHarness<S, T>> {
  const stt = options.stt ?? (new EnergySTT() as sttNs.STT as S);
  const ttsInstance = options.tts ?? (new FakeTTS() as tts.TTS as T);
  const input = new ScriptedAudioInput({ frameMs: options.frameMs });
  const output = new RecordingAudioOutput({ bufferMs: options.outputBufferMs });
  const endpointing: Partial<voice.AgentSessionOptions['turnHandling'] & object>['endpointing'] =
    {};
  if (options.minEndpointingDelayMs !== undefined) {
    endpointing.minDelay = options.minEndpointingDelayMs;
  }
  if (options.maxEndpointingDelayMs !== undefined) {
    endpointing.maxDelay = options.maxEndpointingDelayMs;
  }
  const session = new voice.AgentSession({
    stt,
    llm: options.llm,
    tts: ttsInstance,
    ...(options.vad ? { vad: options.vad } : {}),
    userAwayTimeout: null,
    aecWarmupDuration: null,
    turnHandling: {
      turnDetection: 'vad',
      endpointing,
      interruption: {
        mode: 'vad',
        ...(options.minInterruptionDurationMs !== undefined
          ? { minDuration: options.minInterruptionDurationMs }
          : {}),
      },
      ...(options.preemptiveGeneration !== undefined
        ? { preemptiveGeneration: { enabled: options.preemptiveGeneration } }
        : {}),
    },
    ...options.sessionOptions,
  });
  const agent = new voice.Agent({
    instructions: options.instructions ?? 'You are a test agent.',
    tools: options.tools,
  });
  const recorder = new SessionEventRecorder(session);
  session.input.audio = input;
  session.output.audio = output;
  options.beforeStart?.(session);
  await session.start({ agent });
  input.start();

  return {
    session,
    agent,
    recorder,
    input,
    output,
    stt,
    tts: ttsInstance,
    close: async () => {
      try {
        await session.close();
      } finally {
        await input.close();
        output.close();
        recorder.detach();
      }
    },
  };
}

/** Resolves with the first recorded event matching `predicate`, polling the recorder. */
export async function waitForEvent(
  recorder: SessionEventRecorder,
  predicate: (ev: { type: string; [k: string]: unknown }) => boolean,
  timeoutMs = 10_000,
): Promise<{ type: string; createdAt: number; [k: string]: unknown }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = recorder.events.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for event`);
    await sleep(10);
  }
}
