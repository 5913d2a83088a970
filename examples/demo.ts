/**
 * The demo: a simulated conversation through a real voice.AgentSession, with no LiveKit server
 * or API key. Recorded utterances (examples/assets) are spoken into the session in real time;
 * the framework's bundled Silero VAD detects the end of speech; fake STT, LLM and TTS providers
 * (the same deterministic doubles the tests use) answer with latencies that vary like real ones
 * and occasionally fail. After each turn the live per-component table is redrawn.
 *
 * The session's metrics are also published as a room's data channel would carry them, and an
 * overlay page shows them (http://127.0.0.1:8090/). With LIVEKIT_URL, LIVEKIT_API_KEY and
 * LIVEKIT_API_SECRET set, the demo agent joins a real LiveKit room instead, and the page joins it
 * with livekit-client (so does `livekit-agents-metrics watch --room agents-metrics-demo`).
 *
 * After its turns the demo keeps serving /metrics and the overlay until Ctrl-C (or SIGTERM),
 * on a terminal or with its output piped alike; `--exit` makes it exit after its turns instead.
 *
 *   npm run demo                 # 10 turns, then serves until Ctrl-C
 *   npm run demo -- --turns 20 --overlay-port 8090 --room agents-metrics-demo
 *   npm run demo -- --turns 3 --exit
 */
import './overlay/quiet-sdk-log.js'; // first: before @livekit/rtc-node loads
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MetricsConfigError, attachMetrics, startMetricsServer } from '../src/index.js';
import type { TurnTimeline } from '../src/index.js';
import { EnergySTT } from '../test/support/fake-stt.js';
import { FakeTTS } from '../test/support/fake-tts.js';
import { ScriptedLLM, type ScriptedResponse, toolOutputKey } from '../test/support/scripted-llm.js';
import { createTestTools, startVoiceSession } from '../test/support/session-harness.js';
import { loadSpeechWav } from '../test/support/speech.js';
import { seededRandom } from '../test/support/timing.js';
import { alertSubject, alertText, formatValue } from '../src/catalog/format.js';
import { renderSummary } from '../src/view/text-report.js';
import { joinLiveKitRoom, liveKitFromEnv } from './overlay/livekit-room.js';
import { LoopbackRoom } from './overlay/loopback-room.js';
import { startOverlayServer } from './overlay/overlay-server.js';

const { values: args } = parseArgs({
  options: {
    turns: { type: 'string', default: '10' },
    seed: { type: 'string', default: '7' },
    'overlay-port': { type: 'string', default: '8090' },
    room: { type: 'string', default: 'agents-metrics-demo' },
    exit: { type: 'boolean', default: false },
  },
});
const turnCount = Math.max(1, Number(args.turns) || 10);

// Seeded, so every run of the demo shows the same story.
const random = seededRandom(Number(args.seed) || 7);
/** Log-normal around `median` ms: mostly near it, with a long tail, as provider latency is. */
const latency = (median: number, spread = 0.35) =>
  Math.round(median * Math.exp(spread * gaussian()));
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const LINES = [
  'Hi, I need help with my order.',
  'What is the weather in Paris?',
  'Can you book a table for two?',
  'When does the store open?',
  'Thanks, that is all.',
];
const REPLIES = [
  'Of course. What is your order number?',
  '',
  'Done, a table for two at eight.',
  'We open at nine in the morning.',
  'You are welcome, goodbye!',
];

/** What the fake STT "hears" on turn `i`: the spoken line, made unique per turn so that each
 * turn gets its own LLM response (the fake LLM answers by the user's text). */
const heard = (i: number) => `${LINES[i % LINES.length]} (turn ${i + 1})`;

/** One LLM response per turn, each with its own latency draw. */
function planResponses(): ScriptedResponse[] {
  return Array.from({ length: turnCount }, (_, i) => {
    const line = i % LINES.length;
    const spike = random() < 0.15; // a slow provider moment
    const ttft = latency(spike ? 2600 : 450);
    const response: ScriptedResponse = {
      input: heard(i),
      content: REPLIES[line],
      ttft,
      duration: ttft + latency(350),
      usage: { completionTokens: 12 + Math.round(random() * 20) },
    };
    if (line === 1) response.toolCalls = [{ name: 'getWeather', args: { city: 'Paris' } }];
    return response;
  });
}

// The same numbers for Prometheus: http://127.0.0.1:9464/metrics while the demo runs.
const metricsServer = await startMetricsServer({ port: 9464, host: '127.0.0.1' }).catch(
  (e: unknown) => {
    if (e instanceof MetricsConfigError && e.option === 'port')
      return startMetricsServer({ port: 0, host: '127.0.0.1' });
    throw e;
  },
);

// The room the metrics are published to: a real LiveKit room, or the local stand-in.
const liveKit = liveKitFromEnv(args.room);
const joined = liveKit ? await joinLiveKitRoom(liveKit) : undefined;
const loopback = joined ? undefined : new LoopbackRoom(args.room);
const overlayOptions = {
  roomName: args.room,
  loopback,
  livekit: liveKit && joined && { url: liveKit.url, room: liveKit.room, token: joined.viewerToken },
};
const overlay = await startOverlayServer({
  ...overlayOptions,
  port: Number(args['overlay-port']),
}).catch(() => startOverlayServer({ ...overlayOptions, port: 0 }));

const speeches = await Promise.all(
  LINES.map((text, i) =>
    loadSpeechWav(fileURLToPath(new URL(`./assets/utterance-${i + 1}.wav`, import.meta.url)), text),
  ),
);

const scripted = new ScriptedLLM(
  [
    ...planResponses(),
    {
      input: toolOutputKey('sunny'),
      content: 'It is sunny and 24 degrees in Paris.',
      ttft: 380,
      duration: 700,
    },
  ],
  {
    provider: 'demo-llm',
    model: 'fake-gpt',
  },
);
const harness = await startVoiceSession({
  llm: scripted,
  stt: new EnergySTT({
    sttDelayMs: 280,
    transcripts: heard,
    provider: 'demo-stt',
    model: 'fake-nova',
  }),
  tts: new FakeTTS({
    ttfbMs: () => latency(random() < 0.1 ? 1200 : 220),
    audioMsPerChar: 25,
    fail: () => random() < 0.06,
    provider: 'demo-tts',
    model: 'fake-sonic',
  }),
  tools: createTestTools({ weatherDelayMs: latency(300) }),
  minEndpointingDelayMs: 400,
});

const metrics = attachMetrics(harness.session, {
  labels: { agent_name: 'demo' },
  alerts: {
    ttft: { warning: 1000, critical: 2000 },
    tts_latency: { warning: 600, critical: 1000 },
  },
  alertMinRequests: 3,
  room: joined?.room ?? loopback,
  publish: { intervalMs: 1000 },
});
let lastTurn: TurnTimeline | undefined;
const alertLog: string[] = [];
metrics.on('turn', (t) => (lastTurn = t));
metrics.on('alert', (a) =>
  alertLog.push(
    a.state === 'raised'
      ? `▲ ${alertText(a)}`
      : `▼ ${alertSubject(a)} ${formatValue(a.metric, a.value)}: ${a.level} cleared`,
  ),
);

const tty = process.stdout.isTTY === true;
const draw = (title: string) => {
  const table = renderSummary(metrics.summary(), lastTurn, { color: tty });
  const events = alertLog.slice(-4).join('\n');
  const where = joined ? `LiveKit room "${args.room}" at ${liveKit!.url}` : 'this demo';
  const screen = `${title}\nPrometheus: ${metricsServer.url}\nOverlay:    ${overlay.url} (fed by ${where})\n\n${table}${events ? `\n\nalert events:\n${events}` : ''}\n`;
  process.stdout.write(tty ? `\x1b[2J\x1b[H${screen}` : `${screen}\n`);
};

/** What happens after the turns, said up front: the same on a terminal and with output piped. */
const afterTurns = args.exit
  ? 'then it exits (--exit)'
  : 'then it keeps serving /metrics and the overlay until Ctrl-C (--exit to quit instead)';
draw(`livekit-agents-metrics demo: ${turnCount} turns through a real AgentSession; ${afterTurns}`);
for (let turn = 0; turn < turnCount; turn++) {
  const line = turn % LINES.length;
  // Occasionally the LLM provider fails outright.
  if (random() < 0.08) scripted.failNext(1);
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 15_000);
    const onTurn = () => {
      clearTimeout(timer);
      metrics.off('turn', onTurn);
      resolve();
    };
    metrics.on('turn', onTurn);
  });
  await harness.input.playSpeech(speeches[line]!);
  await done;
  await new Promise((r) => setTimeout(r, 300));
  draw(`livekit-agents-metrics demo: turn ${turn + 1}/${turnCount}: "${LINES[line]}"`);
}

await harness.close(); // the session closes: the final summary goes to the room
await metrics.close();
process.stdout.write(
  '\nfinal summary (metrics.summary()) bottleneck: ' +
    (metrics.summary().bottleneck ?? 'none') +
    '\n',
);
await new Promise((resolve) => setTimeout(resolve, 500)); // let the final summary reach viewers
if (args.exit) {
  process.stdout.write('--exit: closing the overlay and /metrics.\n');
} else {
  // Whether or not stdout is a terminal: the overlay and /metrics stay up to be looked at.
  process.stdout.write(
    `Overlay ${overlay.url} and ${metricsServer.url} stay up: Ctrl-C to exit.\n`,
  );
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
await overlay.close();
await joined?.close();
await metricsServer.close();
