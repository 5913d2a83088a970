/**
 * Turn-taking from the session's state changes: interruptions and how fast the agent went quiet,
 * false interruptions, backchannels, and the end-of-turn model's inference delay.
 *
 * An interruption: the caller starts speaking (`user_state_changed` → `speaking`, at the VAD's
 * start of speech) while the agent speaks; the agent's state then leaves `speaking` (its audio
 * stopped: the framework sets it once the playout is cut, or paused), and the speech handle ends
 * interrupted. An overlap after which the agent went on speaking is not one, nor is a speech
 * that ends interrupted without ever being scheduled (a discarded preemptive generation): nobody
 * heard it to talk over it. A pause the framework later finds false (`agent_false_interruption`)
 * counts as a false interruption, not an interruption.
 *
 * How fast the agent went quiet is measured to its state leaving `speaking`, from two starts:
 * `interruption_stop_latency` from the caller's first voiced sample as the agent received it
 * (the acoustic start of the utterance, src/heard/, which the VAD's detection trails), and
 * `interruption_stop_latency_vad` from the VAD's start of speech. Without an acoustic start near
 * the VAD's (no input probe, or none found) only the latter is recorded.
 */
import type { Signal } from '../ingest/signals.js';
import type { MetricSample, TurnTaking, TurnTakingEvent } from '../types.js';

/** How far before the VAD's start of speech the acoustic start may lie and still be its. */
const MAX_ONSET_LAG_MS = 2_000;
/** The acoustic start may trail the VAD's a little (a soft onset under the energy threshold). */
const MAX_ONSET_LEAD_MS = 300;

/** The caller started speaking over the agent. */
interface BargeIn {
  /** The VAD's start of speech. */
  vadAt: number;
  /** The utterance's first voiced sample as received, once known. */
  acousticAt?: number;
  /** When the agent started speaking: the caller cannot have talked over it before. */
  agentSpeakingAt: number;
}

export interface TurnTakingOutput {
  sample(sample: MetricSample): void;
  event(event: TurnTakingEvent): void;
}

export class TurnTakingTracker {
  private agentState = 'initializing';
  private agentSpeakingAt = 0;
  /** The latest acoustic start of the caller's speech (src/heard/). */
  private voiceStartedAt: number | undefined;
  /** The caller started speaking over the agent, until the agent stops or resumes. */
  private bargeIn: BargeIn | undefined;
  /** The agent went quiet at `at` after the barge-in; an interruption once its speech ends
   * interrupted. */
  private stopped: { at: number; bargeIn: BargeIn } | undefined;
  readonly counts: TurnTaking = {
    interruptions: 0,
    falseInterruptions: 0,
    resumedFalseInterruptions: 0,
    backchannels: 0,
  };

  constructor(private readonly out: TurnTakingOutput) {}

  handle(signal: Signal): void {
    switch (signal.kind) {
      case 'user_audio_started': {
        this.voiceStartedAt = signal.firstVoicedAt;
        // the VAD may have spoken first (a soft onset); the start still belongs to its barge-in
        const pending = this.bargeIn ?? this.stopped?.bargeIn;
        if (pending && pending.acousticAt === undefined && isOnsetOf(signal.firstVoicedAt, pending))
          pending.acousticAt = signal.firstVoicedAt;
        return;
      }
      case 'user_state':
        if (signal.state === 'speaking' && this.agentState === 'speaking' && !this.bargeIn) {
          const bargeIn: BargeIn = { vadAt: signal.at, agentSpeakingAt: this.agentSpeakingAt };
          const voiced = this.voiceStartedAt;
          if (voiced !== undefined && isOnsetOf(voiced, bargeIn)) bargeIn.acousticAt = voiced;
          this.bargeIn = bargeIn;
        }
        return;
      case 'agent_state': {
        const was = this.agentState;
        this.agentState = signal.state;
        if (signal.state === 'speaking') {
          // speaking again (a resumed pause, or the next speech): what was pending is over
          if (was !== 'speaking') this.agentSpeakingAt = signal.at;
          this.bargeIn = undefined;
          this.stopped = undefined;
        } else if (was === 'speaking' && this.bargeIn !== undefined) {
          this.stopped = { at: signal.at, bargeIn: this.bargeIn };
          this.bargeIn = undefined;
        }
        return;
      }
      case 'speech_done': {
        // a discarded preemptive generation ends "interrupted", perhaps before the speech the
        // caller did talk over: it leaves that one's pending stop alone
        if (signal.scheduled === false) return;
        const stopped = this.stopped;
        this.stopped = undefined;
        if (!signal.interrupted || !stopped) return;
        this.counts.interruptions += 1;
        this.out.event({ kind: 'interruption' });
        const { at, bargeIn } = stopped;
        const sample = (
          stat: 'interruption_stop_latency' | 'interruption_stop_latency_vad',
          from: number,
        ) => this.out.sample({ stat, value: Math.max(0, at - from), at, turnId: signal.speechId });
        if (bargeIn.acousticAt !== undefined) {
          // the caller talked over the agent from its first voiced sample, or from the agent's
          // first word if they started together
          sample(
            'interruption_stop_latency',
            Math.max(bargeIn.acousticAt, bargeIn.agentSpeakingAt),
          );
        }
        sample('interruption_stop_latency_vad', bargeIn.vadAt);
        return;
      }
      case 'false_interruption':
        this.stopped = undefined;
        this.counts.falseInterruptions += 1;
        if (signal.resumed) this.counts.resumedFalseInterruptions += 1;
        this.out.event({ kind: 'false_interruption', resumed: signal.resumed });
        return;
      case 'backchannels':
        this.counts.backchannels += signal.count;
        this.out.event({ kind: 'backchannel', count: signal.count });
        return;
      case 'eot_inference':
        this.out.sample({ stat: 'eot_inference_delay', value: signal.delayMs, at: signal.at });
        return;
      default:
        return;
    }
  }
}

/**
 * Whether an acoustic start of speech is that of the utterance the VAD detected at
 * `bargeIn.vadAt`: shortly before it, and not of speech the agent was answering (which started
 * before the agent spoke).
 */
function isOnsetOf(voicedAt: number, bargeIn: BargeIn): boolean {
  return (
    voicedAt >=
      Math.max(bargeIn.vadAt - MAX_ONSET_LAG_MS, bargeIn.agentSpeakingAt - MAX_ONSET_LEAD_MS) &&
    voicedAt <= bargeIn.vadAt + MAX_ONSET_LEAD_MS
  );
}
