/**
 * Rate limits for requests that participants send the agent (summary requests and RPCs): each
 * sender at most {@link PER_SENDER} answers a second, requests without a sender together at most
 * {@link ANONYMOUS}, and everyone together at most {@link GLOBAL} — so many claimed identities
 * cannot multiply the agent's work either.
 */

/** Answers one sender gets per second. */
export const PER_SENDER = 2;
/** Answers to requests that name no sender (each goes to every recipient) per second. */
export const ANONYMOUS = 1;
/** Answers all senders together get per second. */
export const GLOBAL = 10;
/** Senders remembered; past it the oldest are forgotten (they only lose their own history). */
const MAX_SENDERS = 1_000;
const WINDOW_MS = 1_000;
/** Not an identity LiveKit allows (identities are non-empty). */
const ANONYMOUS_KEY = '';

export class RequestLimiter {
  /** Answer times in the last second, per sender and in all. */
  private readonly bySender = new Map<string, number[]>();
  private readonly all: number[] = [];

  constructor(private readonly now: () => number) {}

  /** Whether a request from `sender` (`undefined`: not named by the transport) may be answered
   * now; counts it if so. */
  allow(sender: string | undefined): boolean {
    const now = this.now();
    prune(this.all, now);
    if (this.all.length >= GLOBAL) return false;
    const key = sender ?? ANONYMOUS_KEY;
    let times = this.bySender.get(key);
    if (times) prune(times, now);
    if (times && times.length >= (sender === undefined ? ANONYMOUS : PER_SENDER)) return false;
    if (!times) {
      if (this.bySender.size >= MAX_SENDERS) {
        this.bySender.delete(this.bySender.keys().next().value!);
      }
      this.bySender.set(key, (times = []));
    }
    times.push(now);
    this.all.push(now);
    return true;
  }
}

function prune(times: number[], now: number): void {
  while (times.length > 0 && now - times[0]! >= WINDOW_MS) times.shift();
}
