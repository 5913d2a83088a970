/**
 * The caller meter in a room whose "agent" is not a participant of kind agent (a bot joined with a
 * plain token), on a real LiveKit server: the meter takes the only remote participant that
 * publishes audio; with two such, it measures nothing and warns once, naming `agentIdentity`;
 * with `agentIdentity`, it measures the one named. The bots answer by playing speech a known time
 * after the caller's speech ended, so each report is checked against what was sent.
 */
import { RoomEvent, dispose } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type HeardLatencyMeter,
  type HeardLatencyReport,
  measureHeardLatency,
} from '../../src/caller/index.js';
import { parseCallerMessage } from '../../src/caller/heard-report.js';
import {
  type LiveKitServer,
  ensureLiveKitServer,
  startLiveKitServer,
} from '../support/livekit-server.js';
import { RoomParticipant } from '../support/room-participant.js';
import { type Speech, speak } from '../support/speech.js';
import { tearDown } from '../support/teardown.js';

/** The bot's answer starts this long after the caller's last voiced sample went out. */
const ANSWER_AFTER_MS = 700;
/** What the network, jitter buffers and a loaded machine may add to it on a loopback. */
const NETWORK_MAX_MS = 600;

let server: LiveKitServer | undefined;
let ask: Speech;
let answer: Speech;
const participants: RoomParticipant[] = [];
const meters: HeardLatencyMeter[] = [];
const log: string[] = [];

before(
  async () => {
    await ensureLiveKitServer();
    [ask, answer] = await Promise.all([speak('Hello can you hear me'), speak('Yes I can')]);
    server = await startLiveKitServer();
  },
  { timeout: 16 * 60_000 },
);

after(async () => {
  await tearDown(
    [
      ['meters closed', async () => Promise.all(meters.map((m) => m.close()))],
      ['left', async () => Promise.all(participants.map((p) => p.leave()))],
      ['server stopped', async () => server?.stop()],
      ['rtc disposed', async () => dispose()],
    ],
    (what) => log.push(what),
  );
});

/** A participant that joins with a plain token (no agent kind) and publishes a microphone. */
async function join(room: string, identity: string): Promise<RoomParticipant> {
  const p = await RoomParticipant.join(server!, room, identity);
  participants.push(p);
  await p.publishMicrophone();
  return p;
}

/** The heard-latency reports `bot` received from the caller. */
function reportsTo(bot: RoomParticipant): HeardLatencyReport[] {
  const received: HeardLatencyReport[] = [];
  bot.room.on(RoomEvent.DataReceived, (payload, _p, _kind, topic) => {
    const m = topic === 'agent-metrics' ? parseCallerMessage(payload) : undefined;
    if (m?.type === 'heard_latency') received.push(m);
  });
  return received;
}

function startMeter(caller: RoomParticipant, agentIdentity?: string) {
  const warnings: string[] = [];
  const meter = measureHeardLatency(caller.room, {
    agentIdentity,
    clockSyncIntervalMs: 2_000,
    logger: { warn: (_obj, msg) => warnings.push(msg ?? '') },
  });
  meters.push(meter);
  caller.useCapture((source, frame) => meter.captureFrame(source, frame));
  return { meter, warnings };
}

/** The caller speaks; `bot` answers ANSWER_AFTER_MS after its last voiced sample went out. */
async function turn(caller: RoomParticipant, bot: RoomParticipant) {
  const asked = await caller.say(ask);
  await new Promise((r) => setTimeout(r, ANSWER_AFTER_MS - (Date.now() - asked.speechEndedAt!)));
  const answered = await bot.say(answer);
  await bot.silence(800);
  return answered.speechStartedAt! - asked.speechEndedAt!;
}

const waitFor = (p: RoomParticipant, ok: () => boolean, what: string) =>
  p.waitFor(() => (ok() ? true : undefined), 10_000, what);

describe('measureHeardLatency when the agent is not of kind agent', () => {
  it('measures the only remote participant that publishes audio: a bot joined with a plain token', async () => {
    const room = `plain-${randomBytes(4).toString('hex')}`;
    const caller = await join(room, 'caller');
    const bot = await join(room, 'bot');
    const received = reportsTo(bot);
    const { meter, warnings } = startMeter(caller);
    await caller.silence(1_000);
    const sent: number[] = [];
    for (let i = 0; i < 3; i++) sent.push(await turn(caller, bot));
    await waitFor(bot, () => received.length >= 3, 'three reports at the bot');
    console.table(
      meter.reports.map((r, i) => ({
        heardLatencyMs: r.heardLatencyMs,
        answerSentAfterMs: +sent[i]!.toFixed(1),
        clockRttMs: r.clockRttMs,
      })),
    );
    assert.deepEqual(warnings, []);
    assert.equal(meter.reports.length, 3);
    assert.deepEqual(received, meter.reports, 'each report reached the bot intact');
    for (const [i, r] of meter.reports.entries()) {
      assert.ok(
        r.heardLatencyMs >= sent[i]! - 20 && r.heardLatencyMs <= sent[i]! + NETWORK_MAX_MS,
        `turn ${i}: heard ${r.heardLatencyMs} ms, answer sent ${sent[i]!.toFixed(1)} ms after`,
      );
    }
  });

  it('with two such participants, measures neither and warns once naming agentIdentity; with agentIdentity, measures the one named', async () => {
    const room = `two-${randomBytes(4).toString('hex')}`;
    const caller = await join(room, 'caller');
    const [bot1, bot2] = [await join(room, 'bot-1'), await join(room, 'bot-2')];
    const received = reportsTo(bot1);
    const ambiguous = startMeter(caller);
    await caller.silence(1_000);
    await turn(caller, bot1);
    await turn(caller, bot2);
    assert.equal(ambiguous.warnings.length, 1, ambiguous.warnings.join('\n'));
    assert.match(ambiguous.warnings[0]!, /agentIdentity/);
    assert.match(ambiguous.warnings[0]!, /"bot-1", "bot-2"/);
    assert.equal(ambiguous.meter.reports.length, 0);
    assert.equal(ambiguous.meter.stats.agentFrames, 0, 'no track was read');
    await ambiguous.meter.close();

    const named = startMeter(caller, 'bot-1');
    await caller.silence(500);
    const sent = await turn(caller, bot1);
    await waitFor(bot1, () => received.length >= 1, 'a report at bot-1');
    assert.deepEqual(named.warnings, []);
    assert.equal(named.meter.reports.length, 1);
    assert.deepEqual(received, named.meter.reports);
    const heard = named.meter.reports[0]!.heardLatencyMs;
    assert.ok(heard >= sent - 20 && heard <= sent + NETWORK_MAX_MS, `heard ${heard} ms`);
    console.log('named bot-1', JSON.stringify({ heard, answerSentAfterMs: sent }));
  });
});
