/**
 * The events of a real recorded voice session (test/fixtures/sessions/voice-plain.json),
 * replayed into a session stand-in: a plain EventEmitter, as AgentSession is. Each replay gets
 * fresh speech ids and shifted clocks, so it is new turns to the plugin. Shared by the
 * benchmarks that run in this process and by the job processes bench/hub-job.ts forks.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { voice } from '@livekit/agents';

const fixture = JSON.parse(
  readFileSync(new URL('../test/fixtures/sessions/voice-plain.json', import.meta.url), 'utf8'),
) as { events: Array<Record<string, any>> };
// Session events as emitted, plus the recorded moments the speeches ended, which are replayed
// through the speech handles' done callbacks where they happened (as the framework calls them).
export const sessionEvents = fixture.events.filter(
  (e) => e.type !== 'speech_item_added' && e.type !== 'close',
);
/** The recording holds this many turns; each replay emits all of them. */
export const turnsPerReplay = sessionEvents.filter((e) => e.type === 'speech_created').length;
const REPLAYS_PER_WINDOW = 1_000;
const doneCallbacks = new Map<string, (h: unknown) => void>();

/** The recorded turns with fresh speech ids and shifted clocks, as replay number `n`. */
export function prepareReplay(n: number): Array<Record<string, any>> {
  // 10 s apart, wrapping after ~3 h: shifted by two days and more (the publishing benchmark
  // replays 22 000 times), turn reports broke the schema's bound on a stage's offset (a day,
  // src/wire/schema.ts) and viewers rejected them
  const shift = (n % REPLAYS_PER_WINDOW) * 10_000;
  return sessionEvents.map((ev) => {
    const copy: Record<string, any> = { ...ev, createdAt: ev.createdAt + shift };
    if (ev.metrics) {
      copy.metrics = { ...ev.metrics, timestamp: (ev.metrics.timestamp ?? 0) + shift };
      if (ev.metrics.speechId) copy.metrics.speechId = `${ev.metrics.speechId}-${n}`;
      if (ev.metrics.lastSpeakingTimeMs) copy.metrics.lastSpeakingTimeMs += shift;
    }
    if (ev.speechHandle) {
      const id = `${ev.speechHandle.id}-${n}`;
      copy.speechHandle = {
        id,
        addDoneCallback: (cb: (h: unknown) => void) => doneCallbacks.set(id, cb),
      };
    }
    if (ev.type === 'speech_done') copy.speechId = `${ev.speechId}-${n}`;
    return copy;
  });
}

/** A session stand-in (an EventEmitter, as AgentSession is) that replays prepared events. */
export function replayingSession() {
  const session = new EventEmitter();
  let next = 0;
  const prepared: Array<Array<Record<string, any>>> = [];
  const prepare = (count: number) => {
    prepared.length = 0;
    for (let i = 0; i < count; i++) prepared.push(prepareReplay(next + i));
  };
  const emit = (ev: Record<string, any>) => {
    if (ev.type !== 'speech_done') {
      session.emit(ev.type, ev);
      return;
    }
    const done = doneCallbacks.get(ev.speechId);
    doneCallbacks.delete(ev.speechId);
    done?.({ id: ev.speechId, interrupted: ev.interrupted });
  };
  const emitPrepared = (i: number) => {
    for (const ev of prepared[i]!) emit(ev);
  };
  const emitReplay = () => {
    for (const ev of prepareReplay(next++)) emit(ev);
  };
  const advance = (count: number) => (next += count);
  return {
    session: session as unknown as voice.AgentSession,
    prepare,
    emitPrepared,
    emitReplay,
    advance,
    eventsPerTurn: sessionEvents.length,
  };
}
