/**
 * Records real AgentSession runs (fake providers, real framework) as JSON fixtures.
 *
 *   npx tsx scripts/record-fixtures.ts              # all scenarios
 *   npx tsx scripts/record-fixtures.ts voice-plain  # just some
 *
 * Each file is { scenario, injected, groundTruth, events }: `injected` holds the delays the
 * fakes were told to add (ms), `groundTruth` what the doubles observed (epoch ms), `events`
 * every session event in emission order plus synthetic speech_item_added / speech_done.
 * Voice scenarios need espeak-ng and sox and run in real time (~10 s each).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlayResult } from '../test/support/audio-io.js';
import type { RecordedEvent } from '../test/support/event-recorder.js';
import { EnergySTT } from '../test/support/fake-stt.js';
import { FakeTTS } from '../test/support/fake-tts.js';
import { ScriptedLLM, type ScriptedResponse, toolOutputKey } from '../test/support/scripted-llm.js';
import {
  type HarnessSession,
  createTestTools,
  sleep,
  startTextSession,
  startVoiceSession,
} from '../test/support/session-harness.js';
import { speak } from '../test/support/speech.js';

const OUT_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test/fixtures/sessions',
);

interface Fixture {
  scenario: string;
  injected: Record<string, unknown>;
  groundTruth: Record<string, unknown>;
  events: RecordedEvent[];
}

/** Upper bound on any one turn, so a regression fails the recorder instead of hanging it. */
const TURN_TIMEOUT_MS = 15_000;

async function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), TURN_TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function providerTruth(h: HarnessSession, llm: ScriptedLLM, tts?: FakeTTS, stt?: EnergySTT) {
  return {
    llmRequests: llm.requests,
    ttsRequests: tts?.requests ?? [],
    sttUtterances: stt?.utterances ?? [],
    playout: h.output?.segments ?? [],
  };
}

function llmInjected(responses: ScriptedResponse[]) {
  return responses.map((r) => ({
    input: r.input,
    ttftMs: r.ttft ?? 0,
    durationMs: r.duration ?? 0,
    completionTokens: r.usage?.completionTokens ?? 0,
    promptTokens: r.usage?.promptTokens ?? 0,
    fails: Boolean(r.fail),
    toolCalls: r.toolCalls?.map((t) => t.name) ?? [],
  }));
}

const LLM_LABELS = { provider: 'fake-llm-provider', model: 'fake-llm-model' };
const TTS_LABELS = { provider: 'fake-tts-provider', model: 'fake-tts-model' };
const STT_LABELS = { provider: 'fake-stt-provider', model: 'energy-stt-model' };

async function textPlain(): Promise<Fixture> {
  const responses: ScriptedResponse[] = [
    {
      input: 'hello',
      content: 'Hi there, nice to meet you.',
      ttft: 100,
      duration: 250,
      usage: { completionTokens: 8, promptTokens: 40 },
    },
    {
      input: 'how are you',
      content: 'I am doing well.',
      ttft: 200,
      duration: 400,
      usage: { completionTokens: 5, promptTokens: 60, promptCachedTokens: 32 },
    },
    {
      input: 'goodbye',
      content: 'Goodbye!',
      ttft: 300,
      duration: 500,
      usage: { completionTokens: 3, promptTokens: 80 },
    },
  ];
  const ttfb = [120, 180, 240];
  const llm = new ScriptedLLM(responses, LLM_LABELS);
  const tts = new FakeTTS({ ttfbMs: ({ index }) => ttfb[index] ?? 150, ...TTS_LABELS });
  const h = await startTextSession({ llm, tts });
  try {
    for (const r of responses) await withTimeout(h.send(r.input), r.input);
  } finally {
    await h.close();
  }
  return {
    scenario: 'text-plain',
    injected: {
      mode: 'text input, spoken output',
      llm: llmInjected(responses),
      tts: { ttfbMs: ttfb, audioMsPerChar: tts.opts.audioMsPerChar },
    },
    groundTruth: providerTruth(h, llm, tts),
    events: h.recorder.events,
  };
}

async function textTool(): Promise<Fixture> {
  const toolDelayMs = 200;
  const responses: ScriptedResponse[] = [
    {
      input: 'what is the weather in Paris',
      content: '',
      ttft: 80,
      duration: 120,
      toolCalls: [{ name: 'getWeather', args: { city: 'Paris' } }],
      usage: { completionTokens: 12, promptTokens: 90 },
    },
    {
      input: toolOutputKey('sunny'),
      content: 'It is sunny in Paris today.',
      ttft: 150,
      duration: 300,
      usage: { completionTokens: 7, promptTokens: 110 },
    },
  ];
  const llm = new ScriptedLLM(responses, LLM_LABELS);
  const tts = new FakeTTS({ ttfbMs: 150, ...TTS_LABELS });
  const h = await startTextSession({
    llm,
    tts,
    tools: createTestTools({ weatherDelayMs: toolDelayMs, weatherResult: 'sunny' }),
  });
  try {
    await withTimeout(h.send('what is the weather in Paris'), 'tool turn');
  } finally {
    await h.close();
  }
  return {
    scenario: 'text-tool',
    injected: {
      mode: 'text input, spoken output',
      llm: llmInjected(responses),
      tts: { ttfbMs: 150, audioMsPerChar: tts.opts.audioMsPerChar },
      tools: { getWeather: { executionMs: toolDelayMs, output: 'sunny' } },
    },
    groundTruth: providerTruth(h, llm, tts),
    events: h.recorder.events,
  };
}

async function textLlmFailure(): Promise<Fixture> {
  const responses: ScriptedResponse[] = [
    {
      input: 'hello',
      content: 'Hello!',
      ttft: 100,
      duration: 200,
      usage: { completionTokens: 2, promptTokens: 30 },
    },
    {
      input: 'tell me a joke',
      ttft: 150,
      duration: 300,
      fail: { afterMs: 150, statusCode: 500, message: 'upstream exploded' },
    },
    {
      input: 'never mind',
      content: 'Okay.',
      ttft: 120,
      duration: 240,
      usage: { completionTokens: 2, promptTokens: 50 },
    },
  ];
  const llm = new ScriptedLLM(responses, LLM_LABELS);
  const tts = new FakeTTS({ ttfbMs: 150, ...TTS_LABELS });
  const h = await startTextSession({ llm, tts });
  try {
    for (const r of responses) await withTimeout(h.send(r.input), r.input);
  } finally {
    await h.close();
  }
  return {
    scenario: 'text-llm-failure',
    injected: {
      mode: 'text input, spoken output',
      llm: llmInjected(responses),
      llmFailure: { input: 'tell me a joke', afterMs: 150, statusCode: 500, retryable: false },
      tts: { ttfbMs: 150, audioMsPerChar: tts.opts.audioMsPerChar },
    },
    groundTruth: providerTruth(h, llm, tts),
    events: h.recorder.events,
  };
}

async function ttsFailure(): Promise<Fixture> {
  const responses: ScriptedResponse[] = [
    { input: 'hello', content: 'Hello!', ttft: 100, duration: 200 },
    { input: 'read this', content: 'This sentence will never be heard.', ttft: 100, duration: 200 },
    { input: 'again', content: 'Now I can speak.', ttft: 100, duration: 200 },
  ];
  const llm = new ScriptedLLM(responses, LLM_LABELS);
  const tts = new FakeTTS({
    ttfbMs: 150,
    fail: (text) => text.includes('never be heard'),
    ...TTS_LABELS,
  });
  const h = await startTextSession({ llm, tts });
  try {
    for (const r of responses) await withTimeout(h.send(r.input), r.input);
  } finally {
    await h.close();
  }
  return {
    scenario: 'tts-failure',
    injected: {
      mode: 'text input, spoken output',
      llm: llmInjected(responses),
      tts: { ttfbMs: 150, audioMsPerChar: tts.opts.audioMsPerChar },
      ttsFailure: {
        text: 'This sentence will never be heard.',
        afterMs: 150,
        statusCode: 500,
        retryable: false,
      },
    },
    groundTruth: providerTruth(h, llm, tts),
    events: h.recorder.events,
  };
}

const VOICE_DEFAULTS = {
  sttDelayMs: 350,
  ttsTtfbMs: 200,
  minEndpointingDelayMs: 500,
};

async function voicePlain(): Promise<Fixture> {
  const phrases = ['Hello there how are you today', 'What is the weather like in Paris'];
  const speeches = await Promise.all(phrases.map((p) => speak(p)));
  const responses: ScriptedResponse[] = [
    {
      input: 'hello there how are you today',
      content: 'I am fine, thank you for asking.',
      ttft: 150,
      duration: 300,
      usage: { completionTokens: 9, promptTokens: 50 },
    },
    {
      input: 'what is the weather like in paris',
      content: 'It is sunny in Paris.',
      ttft: 250,
      duration: 400,
      usage: { completionTokens: 6, promptTokens: 70 },
    },
  ];
  const llm = new ScriptedLLM(responses, LLM_LABELS);
  const tts = new FakeTTS({ ttfbMs: VOICE_DEFAULTS.ttsTtfbMs, ...TTS_LABELS });
  const stt = new EnergySTT({
    sttDelayMs: VOICE_DEFAULTS.sttDelayMs,
    transcripts: responses.map((r) => r.input),
    ...STT_LABELS,
  });
  const h = await startVoiceSession({
    llm,
    tts,
    stt,
    minEndpointingDelayMs: VOICE_DEFAULTS.minEndpointingDelayMs,
  });
  const user: PlayResult[] = [];
  try {
    await h.input.playSilence(500);
    for (let i = 0; i < speeches.length; i++) {
      user.push(await h.input.playSpeech(speeches[i]!));
      await withTimeout(h.output.waitForSegmentEnd(i), `reply ${i}`);
      await h.input.playSilence(400);
    }
  } finally {
    await h.close();
  }
  return {
    scenario: 'voice-plain',
    injected: {
      mode: 'voice',
      vad: 'bundled inference.VAD (silero), default options',
      turnDetection: 'vad',
      preemptiveGeneration: true,
      endpointing: { minDelayMs: VOICE_DEFAULTS.minEndpointingDelayMs },
      stt: { sttDelayMs: VOICE_DEFAULTS.sttDelayMs },
      llm: llmInjected(responses),
      tts: { ttfbMs: VOICE_DEFAULTS.ttsTtfbMs, audioMsPerChar: tts.opts.audioMsPerChar },
      userPhrases: phrases,
    },
    groundTruth: { userSpeech: user, ...providerTruth(h, llm, tts, stt) },
    events: h.recorder.events,
  };
}

async function voiceInterrupted(): Promise<Fixture> {
  const phrases = ['Tell me a long story', 'Wait stop please'];
  const [story, stop] = await Promise.all(phrases.map((p) => speak(p)));
  const longAnswer =
    'Once upon a time there was a small robot who lived in a quiet town by the sea, ' +
    'and every morning it walked along the beach collecting shells.';
  const responses: ScriptedResponse[] = [
    {
      input: 'tell me a long story',
      content: longAnswer,
      ttft: 150,
      duration: 600,
      streamContent: true,
      usage: { completionTokens: 30, promptTokens: 50 },
    },
    {
      input: 'wait stop please',
      content: 'Okay, I will stop.',
      ttft: 150,
      duration: 300,
      usage: { completionTokens: 6, promptTokens: 90 },
    },
  ];
  const llm = new ScriptedLLM(responses, LLM_LABELS);
  const tts = new FakeTTS({ ttfbMs: VOICE_DEFAULTS.ttsTtfbMs, ...TTS_LABELS });
  const stt = new EnergySTT({
    sttDelayMs: VOICE_DEFAULTS.sttDelayMs,
    transcripts: responses.map((r) => r.input),
    ...STT_LABELS,
  });
  const bargeInAfterMs = 1000;
  const h = await startVoiceSession({
    llm,
    tts,
    stt,
    minEndpointingDelayMs: VOICE_DEFAULTS.minEndpointingDelayMs,
  });
  const user: PlayResult[] = [];
  try {
    await h.input.playSilence(500);
    user.push(await h.input.playSpeech(story!));
    await withTimeout(h.output.waitForSegmentStart(0), 'story playback start');
    await sleep(bargeInAfterMs);
    user.push(await h.input.playSpeech(stop!));
    await withTimeout(h.output.waitForSegmentEnd(0), 'story interrupted');
    await withTimeout(h.output.waitForSegmentEnd(1), 'second reply');
    await h.input.playSilence(400);
  } finally {
    await h.close();
  }
  return {
    scenario: 'voice-interrupted',
    injected: {
      mode: 'voice',
      vad: 'bundled inference.VAD (silero), default options',
      turnDetection: 'vad',
      preemptiveGeneration: true,
      interruption: { mode: 'vad', minDurationMs: 500 },
      endpointing: { minDelayMs: VOICE_DEFAULTS.minEndpointingDelayMs },
      stt: { sttDelayMs: VOICE_DEFAULTS.sttDelayMs },
      llm: llmInjected(responses),
      tts: { ttfbMs: VOICE_DEFAULTS.ttsTtfbMs, audioMsPerChar: tts.opts.audioMsPerChar },
      userPhrases: phrases,
      bargeInAfterPlaybackStartMs: bargeInAfterMs,
    },
    groundTruth: { userSpeech: user, ...providerTruth(h, llm, tts, stt) },
    events: h.recorder.events,
  };
}

const SCENARIOS: Record<string, () => Promise<Fixture>> = {
  'text-plain': textPlain,
  'text-tool': textTool,
  'text-llm-failure': textLlmFailure,
  'tts-failure': ttsFailure,
  'voice-plain': voicePlain,
  'voice-interrupted': voiceInterrupted,
};

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((n) => !(n in SCENARIOS));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`,
    );
  }
  const names = requested.length > 0 ? requested : Object.keys(SCENARIOS);
  await mkdir(OUT_DIR, { recursive: true });
  for (const name of names) {
    const started = Date.now();
    const fixture = await SCENARIOS[name]!();
    const file = path.join(OUT_DIR, `${name}.json`);
    await writeFile(file, `${JSON.stringify(fixture, null, 2)}\n`);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `${name}: ${fixture.events.length} events in ${secs}s -> ${path.relative(process.cwd(), file)}`,
    );
  }
}

await main();
