/**
 * Which question an answer belongs to, for one call. Pure (times are passed in).
 *
 * Past a worker's knee, an answer can start after the caller gave up on its question and spoke
 * again; the caller meter then pairs it with the new question and times the wrong wait. Here an
 * answer onset is attributed to the question being waited for only when no earlier question is
 * still owed an answer. An onset while one is owed is that late answer: counted, never timed;
 * the question being waited for then stays untimed too (its answer cannot be told apart), and is
 * counted late rather than owed, so one dropped answer does not shift every later one.
 */

export interface TurnRecord {
  /** The caller's last voiced sample of its question (caller clock, ms). */
  endAt: number;
  outcome: 'waiting' | 'answered' | 'unanswered' | 'late';
  /** First audible sample of its answer (this caller's own reading of the agent's track). */
  answeredAt?: number;
  /** Heard latency: the meter's report when it timed the same answer, else answeredAt − endAt. */
  heardMs?: number;
  /** Whether heardMs is the meter's report (the value the agent received). */
  fromMeter: boolean;
}

/** A meter report's times, as matched against the turns. */
export interface ReportTimes {
  callerSpeechEndAt: number;
  agentAudioAt: number;
  heardLatencyMs: number;
}

/** How close a meter report's times must be to this caller's own reading to be the same turn.
 * Both read the same frames; the agent's audio through two streams, stamped on arrival. */
const SAME_END_MS = 25;
const SAME_ONSET_MS = 80;

export class AnswerBook {
  readonly turns: TurnRecord[] = [];
  /** Onsets that came with no question waiting and none owed (the agent spoke on its own). */
  extra = 0;
  /** Meter reports that timed an answer to another question (not used). */
  misattributed = 0;
  /** Questions given up on whose answers may still come, oldest first, with when. */
  private owed: Array<{ turn: number; since: number }> = [];
  private waiting?: number;
  /** The waiting question saw a late answer to an older one: it is not timed. */
  private tainted = false;
  private pending: ReportTimes[] = [];

  constructor(private readonly lateWindowMs: number) {}

  /** The caller finished a question (its last voiced sample at `endAt`). */
  spoke(endAt: number): number {
    this.turns.push({ endAt, outcome: 'waiting', fromMeter: false });
    this.waiting = this.turns.length - 1;
    this.tainted = false;
    return this.waiting;
  }

  /** An onset of agent audio (its first audible sample) at `at`. */
  onset(at: number): 'answer' | 'late' | 'extra' {
    this.owed = this.owed.filter((o) => at - o.since <= this.lateWindowMs);
    const k = this.waiting;
    const waitingTurn = k === undefined ? undefined : this.turns[k];
    if (this.owed.length > 0) {
      // the agent answers an older question; it answers in order, so every older one is settled
      for (const o of this.owed) this.turns[o.turn]!.outcome = 'late';
      this.owed = [];
      if (waitingTurn && at > waitingTurn.endAt) this.tainted = true;
      return 'late';
    }
    if (!waitingTurn || at <= waitingTurn.endAt) {
      this.extra++;
      return 'extra';
    }
    if (this.tainted) return 'late';
    waitingTurn.outcome = 'answered';
    waitingTurn.answeredAt = at;
    waitingTurn.heardMs = at - waitingTurn.endAt;
    this.waiting = undefined;
    // a report read before this caller's own reading of the onset
    const pending = this.pending;
    this.pending = [];
    for (const r of pending) this.report(r);
    return 'answer';
  }

  /** The caller stops waiting for the current question (its answer timeout, at `at`). */
  giveUp(at: number): void {
    const k = this.waiting;
    if (k === undefined) return;
    this.waiting = undefined;
    if (this.tainted) {
      // an answer came while it waited, but may have been an older question's
      this.turns[k]!.outcome = 'late';
      return;
    }
    this.turns[k]!.outcome = 'unanswered';
    this.owed.push({ turn: k, since: at });
    if (this.owed.length > 8) this.owed.shift();
  }

  /** Whether a question is still waiting for its answer. */
  get isWaiting(): boolean {
    return this.waiting !== undefined;
  }

  /** A meter report: it times its turn when it read the same speech end and the same onset. A
   * report for the question still waiting is kept until this caller reads the onset too. */
  report(r: ReportTimes): TurnRecord | undefined {
    const turn = this.turns.find(
      (t) =>
        t.outcome === 'answered' &&
        !t.fromMeter &&
        Math.abs(t.endAt - r.callerSpeechEndAt) <= SAME_END_MS &&
        Math.abs(t.answeredAt! - r.agentAudioAt) <= SAME_ONSET_MS,
    );
    if (!turn) {
      const k = this.waiting;
      const waiting = k === undefined ? undefined : this.turns[k];
      if (
        waiting &&
        Math.abs(waiting.endAt - r.callerSpeechEndAt) <= SAME_END_MS &&
        this.pending.length < 4
      ) {
        this.pending.push(r);
      } else this.misattributed++;
      return undefined;
    }
    turn.heardMs = r.heardLatencyMs;
    turn.fromMeter = true;
    return turn;
  }

  /** The call is over: reports still unmatched timed no answer this caller read. */
  finish(): void {
    this.misattributed += this.pending.length;
    this.pending = [];
    this.giveUpIfWaiting();
  }

  private giveUpIfWaiting(): void {
    const k = this.waiting;
    if (k === undefined) return;
    // the call ended while it waited: not an answer the worker owed past its timeout
    this.turns.splice(k, 1);
    this.waiting = undefined;
  }
}
