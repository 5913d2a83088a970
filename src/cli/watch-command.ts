import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { MetricsFeed } from '../view/metrics-feed.js';
import {
  describeAlert,
  printable,
  renderSummary,
  renderWaterfall,
  safeJson,
} from '../view/text-report.js';
import {
  DEFAULT_TOPIC,
  type MetricsMessage,
  type SummaryRequestMessage,
} from '../wire/messages.js';
import { type CliIo, type Command, EXIT_FAILURE, UsageError, oneLine, quoted } from './command.js';

const USAGE = `Usage: livekit-agents-metrics watch --room <name> [options]

Joins a LiveKit room as a hidden observer and prints the agent's live metrics: its summary
(p50/p90 per component, error rates, bottleneck, alerts) whenever it changes, and each turn's
timeline as it completes. The agent must publish them (attachMetrics with \`room\`).

Options:
  --url <ws url>         LiveKit server URL (default: $LIVEKIT_URL)
  --room <name>          room to join (required)
  --topic <topic>        data topic the agent publishes on (default: ${DEFAULT_TOPIC})
  --identity <id>        identity to join with (default: metrics-watch-<random>)
  --json                 print each received message as one line of JSON instead
  --duration <seconds>   leave after this long (default: until Ctrl-C or the room closes)
  -h, --help             show this help

Environment:
  LIVEKIT_API_KEY, LIVEKIT_API_SECRET   used to mint the observer's token (required)
  LIVEKIT_URL                           server URL, when --url is not given

Example:
  LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=... \\
    npx livekit-agents-metrics watch --url wss://my.livekit.cloud --room support-42
`;

export interface WatchArgs {
  url: string;
  room: string;
  topic: string;
  identity: string;
  json: boolean;
  durationMs: number | undefined;
  apiKey: string;
  apiSecret: string;
}

/** The longest `--duration`: a timer's limit, 2^31 - 1 ms (Node fires a longer one at once). */
const MAX_DURATION_S = 2_147_483;

/** watch's arguments, and the LiveKit variables of `env`; throws a UsageError (exit 2). */
export function parseWatchArgs(
  args: string[],
  env: Readonly<Record<string, string | undefined>>,
): WatchArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        url: { type: 'string' },
        room: { type: 'string' },
        topic: { type: 'string' },
        identity: { type: 'string' },
        json: { type: 'boolean' },
        duration: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const url = values.url ?? env.LIVEKIT_URL;
  if (!url) throw new UsageError('--url is required (or set LIVEKIT_URL)');
  if (!/^wss?:\/\/|^https?:\/\//.test(url)) {
    throw new UsageError(
      `--url: expected a ws://, wss://, http:// or https:// URL, got ${quoted(url)}`,
    );
  }
  if (!values.room) throw new UsageError('--room is required');
  const apiKey = env.LIVEKIT_API_KEY;
  const apiSecret = env.LIVEKIT_API_SECRET;
  if (!apiKey || !apiSecret) {
    throw new UsageError('set LIVEKIT_API_KEY and LIVEKIT_API_SECRET to mint the observer token');
  }
  const topic = values.topic ?? DEFAULT_TOPIC;
  let durationMs: number | undefined;
  if (values.duration !== undefined) {
    const seconds = Number(values.duration);
    if (!(seconds > 0 && seconds <= MAX_DURATION_S)) {
      throw new UsageError(
        `--duration: expected seconds > 0 and at most ${MAX_DURATION_S} (24 days), got ${quoted(values.duration)}`,
      );
    }
    durationMs = seconds * 1000;
  }
  return {
    url,
    room: values.room,
    topic,
    identity: values.identity ?? `metrics-watch-${randomBytes(4).toString('hex')}`,
    json: values.json ?? false,
    durationMs,
    apiKey,
    apiSecret,
  };
}

/** The optional peer dependencies watch needs, loaded only when it runs. */
async function loadLiveKit() {
  // @livekit/rtc-node logs at debug level to stdout unless NODE_ENV is production, which would mix
  // its log lines into watch's output (and break --json).
  process.env.NODE_ENV ??= 'production';
  try {
    const [rtc, sdk] = await Promise.all([
      import('@livekit/rtc-node'),
      import('livekit-server-sdk'),
    ]);
    return { rtc, sdk };
  } catch (err) {
    throw new RunError(
      `watch needs @livekit/rtc-node and livekit-server-sdk (installed with @livekit/agents): ${(err as Error).message}`,
    );
  }
}

class RunError extends Error {}

type LiveKitModules = Awaited<ReturnType<typeof loadLiveKit>>;

async function observerToken(a: WatchArgs, sdk: LiveKitModules['sdk']) {
  const token = new sdk.AccessToken(a.apiKey, a.apiSecret, {
    identity: a.identity,
    name: 'metrics watch',
    ttl: '6h',
  });
  // hidden: the agent and the other participants don't see the observer; it may send data only
  // to ask the agent for its summary (a summary_request), and it subscribes to no media.
  token.addGrant({
    room: a.room,
    roomJoin: true,
    hidden: true,
    canPublish: false,
    canSubscribe: false,
    canPublishData: true,
  });
  return token.toJwt();
}

/** Text for one message, as watch prints it. */
function describeMessage(message: MetricsMessage, sender: string, color: boolean): string {
  const who = printable(sender || 'agent');
  switch (message.type) {
    case 'summary':
      return (
        `── ${who}${message.final ? ' (session ended)' : ''} ─ ${new Date(message.at).toISOString()}\n` +
        renderSummary(message.summary, undefined, { color }) +
        '\n'
      );
    case 'turn':
      return renderWaterfall(message.turn).join('\n') + '\n';
    case 'alert':
      return `alert ${message.alert.state}: ${message.alert.level} ${describeAlert(message.alert)}\n`;
  }
}

export const watchCommand: Command = {
  name: 'watch',
  summary: "join a room as a hidden observer and print the agent's live metrics",
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const parsed = parseWatchArgs(args, process.env);
    if (parsed === 'help') {
      io.stdout(USAGE);
      return 0;
    }
    try {
      return await watch(parsed, io);
    } catch (err) {
      if (!(err instanceof RunError)) throw err;
      io.stderr(`livekit-agents-metrics watch: ${oneLine(err.message)}\n`);
      return EXIT_FAILURE;
    }
  },
};

/** What watch prints for each received message: JSON lines, plain lines when piped, or one
 * screen redrawn in place on a terminal. */
function printerFor(a: WatchArgs, io: CliIo, feed: MetricsFeed) {
  const tty = !a.json && process.stdout.isTTY === true;
  const color = tty && !process.env.NO_COLOR;
  const alertLog: string[] = [];
  return (message: MetricsMessage | null, sender: string) => {
    if (!message) return;
    if (a.json) {
      io.stdout(safeJson({ from: sender, ...message }) + '\n');
      return;
    }
    if (!tty) {
      io.stdout(describeMessage(message, sender, color));
      return;
    }
    if (message.type === 'alert') alertLog.push(describeMessage(message, sender, color).trim());
    io.stdout(renderScreen(a, feed, alertLog, color));
  };
}

/** The terminal screen: each agent's summary and last turn, and the latest alert events. */
function renderScreen(a: WatchArgs, feed: MetricsFeed, alertLog: string[], color: boolean) {
  const screens = feed.agents.map((state) => {
    const who = printable(state.sender || 'agent');
    const status = state.final ? 'session ended' : 'live';
    const head = `── ${who} (${status}) ─ room "${printable(state.room)}" ─ ${new Date(state.updatedAt).toLocaleTimeString()}`;
    const body = state.summary
      ? renderSummary(state.summary, state.lastTurn, { color })
      : state.lastTurn
        ? renderWaterfall(state.lastTurn).join('\n')
        : 'waiting for metrics…';
    return `${head}\n${body}`;
  });
  const events = alertLog.slice(-4).join('\n');
  return (
    `\x1b[2J\x1b[Hwatching room "${printable(a.room)}" (Ctrl-C to leave)\n\n` +
    `${screens.join('\n\n')}${events ? `\n\nalert events:\n${events}` : ''}\n`
  );
}

/** Resolves when the duration is up, on Ctrl-C or SIGTERM, or when the room closes. */
function untilDone(
  a: WatchArgs,
  room: { once(event: string, fn: () => void): unknown },
  disconnected: string,
) {
  return new Promise<void>((resolve) => {
    const timer = a.durationMs === undefined ? undefined : setTimeout(resolve, a.durationMs);
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    room.once(disconnected, stop);
  });
}

async function watch(a: WatchArgs, io: CliIo): Promise<number> {
  const { rtc, sdk } = await loadLiveKit();
  const room = new rtc.Room();
  const feed = new MetricsFeed();
  const show = printerFor(a, io, feed);

  room.on(rtc.RoomEvent.DataReceived, (payload, participant, _kind, topic) => {
    if (topic !== a.topic) return;
    const sender = participant?.identity ?? '';
    show(feed.receive(payload, sender), sender);
  });

  // A hidden participant's RPCs are not delivered, so watch asks with a data message instead.
  const request: SummaryRequestMessage = { v: 2, type: 'summary_request', identity: a.identity };
  const askForSummary = (identities?: string[]) =>
    room.localParticipant
      ?.publishData(new TextEncoder().encode(JSON.stringify(request)), {
        reliable: true,
        topic: a.topic,
        ...(identities ? { destination_identities: identities } : {}),
      })
      .catch(() => {
        // the next broadcast summary will come anyway
      });
  room.on(rtc.RoomEvent.ParticipantConnected, (p) => void askForSummary([p.identity]));

  const token = await observerToken(a, sdk);
  try {
    await room.connect(a.url, token, { autoSubscribe: false, dynacast: false });
  } catch (err) {
    await rtc.dispose().catch(() => {}); // or the SDK's native side keeps the process alive
    throw new RunError(
      `could not join room ${quoted(a.room)} at ${quoted(a.url)}: ${oneLine((err as Error).message)}`,
    );
  }
  if (!a.json) {
    io.stderr(`watching room ${quoted(a.room)} on topic ${quoted(a.topic)} (Ctrl-C to leave)\n`);
  }
  void askForSummary();
  await untilDone(a, room, rtc.RoomEvent.Disconnected);
  await room.disconnect().catch(() => {});
  // the SDK's native side keeps the process alive until it is disposed
  await rtc.dispose().catch(() => {});
  return 0;
}
