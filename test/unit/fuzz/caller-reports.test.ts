/**
 * The callers' heard-latency messages, by property: whatever the caller's encoder emits, the
 * agent's decoder accepts as it was meant; no bytes or JSON make the decoder (or the agent's
 * reader) throw; and whatever a forger with a microphone sends, interleaved with the real
 * caller's reports, it becomes the caller only through a report accepted on its merits, and no
 * sample lands outside its turn's window.
 */
import { TrackSource } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CallerMessage,
  encodeCallerMessage,
  parseCallerMessage,
  toCallerMessage,
} from '../../../src/caller/heard-report.js';
import { CallerReports, type HeardRejection } from '../../../src/heard/caller-reports.js';
import type { MetricSample, TurnTimeline } from '../../../src/types.js';
import { Guard } from '../../../src/util/guard.js';

const TOPIC = 'agent-metrics';
const T0 = 1_796_100_000_000;

/** A number from anywhere a field's range could be missed: in range, at its edges, beyond. */
const anyNumber = fc.oneof(
  fc.double({ noNaN: false }),
  fc.double({ min: -1, max: 70_000, noNaN: true }),
  fc.constantFrom(
    0,
    -0,
    1,
    60_000,
    60_000.5,
    2_000,
    2_001,
    1e12,
    -1e12,
    1e13,
    2 ** 31 - 1,
    2 ** 31,
  ),
  fc.integer({ min: -10, max: 2 ** 31 + 10 }),
);
const anyTime = fc.oneof(anyNumber, fc.double({ min: 0, max: 1e13, noNaN: true }));
const anyField = fc.oneof(
  anyNumber,
  fc.string({ maxLength: 40 }),
  fc.constant(undefined),
  fc.constant(null),
);
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/** What a sender might hand the encoder: a report's fields, each drawn wide, often consistent. */
const reportDraft = fc
  .record({
    seq: fc.oneof(fc.integer({ min: 1, max: 100 }), anyNumber),
    callerSpeechEndAt: anyTime,
    latency: fc.oneof(fc.double({ min: 0, max: 60_000, noNaN: true }), anyNumber),
    heardLatencyMs: optional(anyField),
    outputLatencyMs: optional(fc.oneof(fc.double({ min: 0, max: 2_500, noNaN: true }), anyNumber)),
    clockOffsetMs: optional(anyNumber),
    clockRttMs: optional(anyNumber),
    meter: optional(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/), fc.string())),
  })
  .map(({ latency, ...d }) => {
    const agentAudioAt = (d.callerSpeechEndAt as number) + (latency as number);
    const m: Record<string, unknown> = { v: 1, type: 'heard_latency', ...d, agentAudioAt };
    // mostly the sender's own consistent figure, sometimes whatever it was given
    if (d.heardLatencyMs === undefined) {
      m.heardLatencyMs =
        agentAudioAt - (d.callerSpeechEndAt as number) + ((d.outputLatencyMs as number) || 0);
    }
    return m as unknown as CallerMessage;
  });

const pingDraft = fc.record({
  v: fc.constant(1),
  type: fc.constant('clock_ping'),
  id: fc.oneof(fc.nat(), anyNumber),
  sentAt: anyTime,
}) as fc.Arbitrary<CallerMessage>;

const pongDraft = fc.record({
  v: fc.constant(1),
  type: fc.constant('clock_pong'),
  id: fc.oneof(fc.nat(), anyNumber),
  pingSentAt: anyTime,
  receivedAt: anyTime,
  sentAt: anyTime,
}) as fc.Arbitrary<CallerMessage>;

describe('caller messages, by property', () => {
  it('whatever the encoder emits, the decoder accepts, as the schema made it (numRuns 3000)', () => {
    fc.assert(
      fc.property(fc.oneof(reportDraft, pingDraft, pongDraft), (draft) => {
        const counts = { dropped: 0, adjusted: 0 };
        const bytes = encodeCallerMessage(draft, counts);
        if (bytes === undefined) {
          assert.equal(counts.dropped, 1, 'a message not sent is counted');
          return;
        }
        assert.equal(counts.dropped, 0);
        const decoded = parseCallerMessage(bytes);
        assert.notEqual(decoded, null, new TextDecoder().decode(bytes));
        assert.deepEqual(decoded, toCallerMessage(draft));
      }),
      { numRuns: 3_000 },
    );
  });

  it('a message in range is sent unchanged (numRuns 1000)', () => {
    const valid = fc
      .record({
        seq: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        callerSpeechEndAt: fc.double({ min: 0, max: 1e13 - 70_000, noNaN: true }),
        latency: fc.double({ min: 0, max: 58_000, noNaN: true }),
        out: optional(fc.double({ min: 0, max: 2_000, noNaN: true })),
        clock: optional(
          fc.tuple(
            fc.double({ min: -1e12, max: 1e12, noNaN: true }),
            fc.double({ min: 0, max: 60_000, noNaN: true }),
          ),
        ),
        meter: optional(fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/)),
      })
      .map(({ seq, callerSpeechEndAt, latency, out, clock, meter }) => {
        const agentAudioAt = callerSpeechEndAt + latency;
        const m: Record<string, unknown> = {
          v: 1,
          type: 'heard_latency',
          seq,
          heardLatencyMs: agentAudioAt - callerSpeechEndAt + (out ?? 0),
          callerSpeechEndAt,
          agentAudioAt,
        };
        if (meter !== undefined) m.meter = meter;
        if (out !== undefined) m.outputLatencyMs = out;
        if (clock) [m.clockOffsetMs, m.clockRttMs] = clock;
        return m as unknown as CallerMessage;
      });
    fc.assert(
      fc.property(valid, (m) => {
        const counts = { dropped: 0, adjusted: 0 };
        // (JSON's only change to a valid message: -0 reads back as 0, the same value)
        assert.deepEqual(
          parseCallerMessage(encodeCallerMessage(m, counts)!),
          JSON.parse(JSON.stringify(m)),
        );
        assert.deepEqual(counts, { dropped: 0, adjusted: 0 });
      }),
      { numRuns: 1_000 },
    );
  });

  it('no bytes or JSON make the decoder throw; what it accepts re-encodes as is (numRuns 3000)', () => {
    const shaped = fc
      .record({
        type: fc.constantFrom('heard_latency', 'clock_ping', 'clock_pong', '__proto__', 'x'),
        fields: fc.dictionary(
          fc.constantFrom(
            'seq',
            'heardLatencyMs',
            'callerSpeechEndAt',
            'agentAudioAt',
            'outputLatencyMs',
            'clockOffsetMs',
            'clockRttMs',
            'meter',
            'id',
            'sentAt',
            'pingSentAt',
            'receivedAt',
            '__proto__',
            'constructor',
          ),
          fc.oneof(anyField, fc.jsonValue()),
        ),
      })
      .map(({ type, fields }) => JSON.stringify({ ...fields, v: 1, type }));
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.json().map((j) => new TextEncoder().encode(j)),
      fc.string({ maxLength: 600 }),
      shaped,
      shaped.map((s) => new TextEncoder().encode(s)),
    );
    fc.assert(
      fc.property(payload, (p) => {
        const m = parseCallerMessage(p);
        if (m !== null) assert.deepEqual(parseCallerMessage(encodeCallerMessage(m)!), m);
      }),
      { numRuns: 3_000 },
    );
  });

  it('the agent’s reader takes any payload without an internal error (numRuns 500)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 520 }), { maxLength: 20 }), (payloads) => {
        const h = harness();
        for (const p of payloads) h.send(p, 'caller', h.at(h.now() + 600));
        h.reports.turn(voiceTurn('t', 0, 900, 4_000));
        assert.deepEqual(h.internal, []);
      }),
      { numRuns: 500 },
    );
  });
});

/** A room and an agent-side reader with an injected clock; `caller` and `forger` both have a
 * subscribed microphone. */
function harness() {
  let clock = T0;
  const room = new (class extends EventEmitter {
    readonly isConnected = true;
    readonly name = 'room';
    readonly pongs: string[] = [];
    readonly localParticipant = {
      publishData: async (_d: Uint8Array, o: { destination_identities?: string[] }) => {
        this.pongs.push(...(o.destination_identities ?? []));
      },
    };
  })();
  const samples: MetricSample[] = [];
  const rejected: HeardRejection[] = [];
  const internal: unknown[] = [];
  const reports = new CallerReports(
    { room, topic: TOPIC },
    {
      now: () => clock,
      sample: (s) => samples.push(s),
      rejected: (r) => rejected.push(r),
      amended: () => {},
      guard: new Guard({
        warn: (o: object) => {
          if (!('reason' in o)) internal.push(o); // a rejection's log names its reason
        },
      }),
    },
  );
  const participant = (identity: string) => ({
    identity,
    trackPublications: new Map([
      ['TR_mic', { source: TrackSource.SOURCE_MICROPHONE, subscribed: true }],
    ]),
  });
  return {
    room,
    reports,
    samples,
    rejected,
    internal,
    now: () => clock - T0,
    at: (t: number) => {
      clock = T0 + t;
      return t;
    },
    send: (payload: Uint8Array, who: string, _t?: number) =>
      room.emit('dataReceived', payload, participant(who), undefined, TOPIC),
  };
}

/** A completed voice turn: the framework's end of speech at `stop`, the acoustic one 100 ms
 * before it, its first audio out at `stop + e2e`, ended at `end` (ms after T0). */
function voiceTurn(id: string, stop: number, e2e: number, end: number): TurnTimeline {
  const stoppedAt = T0 + stop;
  return {
    id,
    input: 'voice',
    startedAt: stoppedAt,
    endedAt: T0 + end,
    userStoppedSpeakingAt: stoppedAt,
    agentStartedSpeakingAt: stoppedAt + e2e,
    e2eLatencyMs: e2e,
    interrupted: false,
    cancelled: false,
    stages: [
      { stage: 'speech_end_lag', startAt: stoppedAt - 100, offsetMs: -100, durationMs: 100 },
    ],
  };
}

const ARRIVAL_GRACE_MS = 3_000;
const MAX_UPLINK_MS = 5_000;
const MAX_NETWORK_MS = 10_000;

describe('a forger and the caller, interleaved', () => {
  it('the forger becomes the caller only through a report accepted on its merits, and no sample leaves its window (numRuns 400)', () => {
    const turnSpec = fc.record({
      e2e: fc.integer({ min: 200, max: 4_000 }),
      speak: fc.integer({ min: 300, max: 10_000 }),
      gap: fc.integer({ min: 500, max: 15_000 }),
    });
    /** A report aimed at turn `turn`: arrival after its audio (`arrive`, may be far off), heard
     * latency the agent's part + `net` (may be absurd), and maybe a clock offset `skew` ms off
     * the truth. Or an arrival anywhere. */
    const reportSpec = fc.record({
      who: fc.constantFrom('caller', 'forger', 'forger'),
      turn: fc.nat({ max: 3 }),
      arrive: fc.oneof(
        fc.integer({ min: -2_000, max: 14_000 }),
        fc.integer({ min: -60_000, max: 60_000 }),
      ),
      net: fc.oneof(
        fc.integer({ min: -200, max: 4_000 }),
        fc.integer({ min: -5_000, max: 60_000 }),
      ),
      seq: fc.integer({ min: 1, max: 12 }),
      meter: fc.constantFrom(undefined, 'a', 'b', 'c'),
      clock: optional(
        fc.record({
          skew: fc.oneof(fc.integer({ min: -300, max: 300 }), fc.integer({ min: -1e9, max: 1e9 })),
          rtt: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 60_000 })),
        }),
      ),
      ping: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(turnSpec, { minLength: 1, maxLength: 4 }),
        fc.array(reportSpec, { maxLength: 30 }),
        (specs, sends) => {
          const h = harness();
          // the turns on the agent's timeline
          const turns: TurnTimeline[] = [];
          let t = 0;
          for (const [i, s] of specs.entries()) {
            turns.push(voiceTurn(`t${i}`, t, s.e2e, t + s.e2e + s.speak));
            t += s.e2e + s.speak + s.gap;
          }
          // what each sent report was, to attribute samples (its heard latency is unique)
          const sent = new Map<number, { who: string; at: number }>();
          type Event = { at: number; run: () => void };
          const events: Event[] = turns.map((turn) => ({
            at: turn.endedAt - T0,
            run: () => h.reports.turn(turn),
          }));
          for (const [i, s] of sends.entries()) {
            const turn = turns[s.turn % turns.length]!;
            const audioAt = turn.agentStartedSpeakingAt! - T0;
            const agentMs = turn.agentStartedSpeakingAt! - (turn.userStoppedSpeakingAt! - 100);
            const at = audioAt + s.arrive;
            const heard = Math.min(59_000, Math.max(0, agentMs + s.net)) + (i + 1) / 1024;
            const callerSpeechEndAt = 5_000_000 + i * 100_000;
            const m: Record<string, unknown> = {
              v: 1,
              type: 'heard_latency',
              seq: s.seq,
              heardLatencyMs: heard,
              callerSpeechEndAt,
              agentAudioAt: callerSpeechEndAt + heard,
            };
            if (s.meter !== undefined) m.meter = s.meter;
            if (s.clock) {
              // the true offset puts its speech end 150 ms before the agent's acoustic end
              const truth = turn.userStoppedSpeakingAt! - 100 - 150 - callerSpeechEndAt;
              m.clockOffsetMs = Math.max(-1e12, Math.min(1e12, truth + s.clock.skew));
              m.clockRttMs = s.clock.rtt;
            }
            const bytes = encodeCallerMessage(m as unknown as CallerMessage);
            if (!bytes) continue;
            sent.set(heard, { who: s.who, at });
            events.push({ at, run: () => h.send(bytes, s.who) });
            if (s.ping) {
              const ping = encodeCallerMessage({ v: 1, type: 'clock_ping', id: i, sentAt: 1 })!;
              events.push({ at: at + 1, run: () => h.send(ping, s.who) });
            }
          }
          events.sort((a, b) => a.at - b.at);
          let forgerAccepted = false;
          for (const e of events) {
            h.at(e.at);
            const pongs = h.room.pongs.length;
            const callerBefore = h.reports.caller;
            e.run();
            for (const s of h.samples.slice(-1)) {
              if (sent.get(s.value)?.who === 'forger') forgerAccepted = true;
            }
            if (h.reports.caller === 'forger') {
              assert.ok(forgerAccepted, 'the forger is the caller only through an accepted report');
            }
            if (callerBefore === 'caller') {
              assert.ok(!h.room.pongs.slice(pongs).includes('forger'), 'no pong for the forger');
            }
          }
          // every sample: one per turn, from one sender (the caller), inside its window
          const byTurn = new Set<string>();
          for (const s of h.samples) {
            const from = sent.get(s.value);
            assert.ok(from, `sample ${s.value} was sent`);
            assert.equal(from.who, h.reports.caller, 'every sample is from the caller');
            assert.ok(!byTurn.has(s.turnId!), 'one sample per turn');
            byTurn.add(s.turnId!);
            const turn = turns.find((x) => x.id === s.turnId)!;
            const arrived = T0 + from.at;
            assert.ok(arrived >= turn.agentStartedSpeakingAt!, 'not before its turn’s audio');
            assert.ok(arrived <= turn.endedAt + ARRIVAL_GRACE_MS, 'not after its window');
            const speechEnd = turn.userStoppedSpeakingAt! - 100;
            const agentMs = turn.agentStartedSpeakingAt! - speechEnd;
            assert.ok(s.value >= agentMs - 50 && s.value <= agentMs + MAX_NETWORK_MS, 'plausible');
            assert.ok(s.value <= arrived - speechEnd + MAX_UPLINK_MS, 'heard before reported');
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
