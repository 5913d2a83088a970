/**
 * The agent's half of the clock exchange: it answers each valid `clock_ping` with a `clock_pong`
 * carrying its own clock, to the asker alone. Pure apart from the injected `publish` and `now`, and
 * isomorphic; the agent wires it to its room's data (see docs/HEARD-LATENCY.md).
 */
import {
  type ClockPongMessage,
  clockPong,
  encodeCallerMessage,
  parseCallerMessage,
} from './heard-report.js';

export interface ClockResponderOptions {
  /** Sends `payload` to the participant `identity` (reliable, on the metrics topic). */
  publish: (payload: Uint8Array, identity: string) => void | Promise<void>;
  /**
   * The agent's clock, ms: the clock its turn timeline uses, so that a caller's times mapped
   * through the offset land on it. Default `Date.now` (the framework's and the plugin's clock).
   */
  now?: () => number;
  /** Answers per asker per second at most; the rest are dropped. Default `5`. */
  maxPerSecond?: number;
}

/** Askers remembered for rate limiting; past this the memory starts over. */
const MAX_ASKERS = 1_000;

export class ClockResponder {
  /** Pings answered, and valid pings dropped for coming too fast. */
  answered = 0;
  dropped = 0;
  private readonly now: () => number;
  private readonly minGapMs: number;
  private readonly lastAnswer = new Map<string, number>();

  constructor(private readonly options: ClockResponderOptions) {
    this.now = options.now ?? Date.now;
    this.minGapMs = 1000 / (options.maxPerSecond ?? 5);
  }

  /**
   * Reads a payload received on the metrics topic from `identity` (read the clock first: call it
   * straight from the room's data event). Returns the answer it sent, if any. Never throws.
   */
  receive(payload: Uint8Array | string, identity: string): ClockPongMessage | undefined {
    const receivedAt = this.now();
    const ping = parseCallerMessage(payload);
    // everything else on the topic (reports, the publisher's own requests) is someone else's
    if (ping?.type !== 'clock_ping' || typeof identity !== 'string' || identity === '') {
      return undefined;
    }
    const last = this.lastAnswer.get(identity);
    if (last !== undefined && receivedAt - last < this.minGapMs) {
      this.dropped++;
      return undefined;
    }
    if (this.lastAnswer.size >= MAX_ASKERS) this.lastAnswer.clear();
    this.lastAnswer.set(identity, receivedAt);
    const pong = clockPong(ping, receivedAt, this.now());
    const answer = encodeCallerMessage(pong);
    // a valid ping's answer is valid (clockPong keeps it so); checked all the same
    if (!answer) return undefined;
    try {
      void Promise.resolve(this.options.publish(answer, identity)).catch(() => {});
    } catch {
      // a failed send is a lost answer; the caller asks again
    }
    this.answered++;
    return pong;
  }
}
