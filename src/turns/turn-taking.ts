/**
 * Turn-taking from the session's state changes: interruptions and how fast the agent went quiet,
 * false interruptions, backchannels, and the end-of-turn model's inference delay.
 *
 * An interruption: the caller starts speaking (`user_state_changed` → `speaking`, at the VAD's
 * start of speech) while the agent speaks; the agent's state then leaves `speaking` (its audio
 * stopped: the framework sets it once the playout is cut, or paused), and the speech handle ends
 * interrupted. The time between the first two is `interruption_stop_latency`. An overlap after
 * which the agent went on speaking is not one, nor is a speech that ends interrupted without
 * ever being scheduled (a discarded preemptive generation): nobody heard it to talk over it. A pause the framework later finds false
 * (`agent_false_interruption`) counts as a false interruption, not an interruption.
 */
import type { Signal } from '../ingest/signals.js';
import type { MetricSample, TurnTaking, TurnTakingEvent } from '../types.js';

export interface TurnTakingOutput {
  sample(sample: MetricSample): void;
  event(event: TurnTakingEvent): void;
}

export class TurnTakingTracker {
  private agentState = 'initializing';
  /** When the caller started speaking over the agent, until the agent stops or resumes. */
  private bargeInAt: number | undefined;
  /** The agent went quiet this long after the barge-in; an interruption once its speech ends
   * interrupted. */
  private stopped: { at: number; latencyMs: number } | undefined;
  readonly counts: TurnTaking = {
    interruptions: 0,
    falseInterruptions: 0,
    resumedFalseInterruptions: 0,
    backchannels: 0,
  };

  constructor(private readonly out: TurnTakingOutput) {}

  handle(signal: Signal): void {
    switch (signal.kind) {
      case 'user_state':
        if (signal.state === 'speaking' && this.agentState === 'speaking') {
          this.bargeInAt ??= signal.at;
        }
        return;
      case 'agent_state': {
        const was = this.agentState;
        this.agentState = signal.state;
        if (signal.state === 'speaking') {
          // speaking again (a resumed pause, or the next speech): what was pending is over
          this.bargeInAt = undefined;
          this.stopped = undefined;
        } else if (was === 'speaking' && this.bargeInAt !== undefined) {
          this.stopped = { at: signal.at, latencyMs: Math.max(0, signal.at - this.bargeInAt) };
          this.bargeInAt = undefined;
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
        this.out.sample({
          stat: 'interruption_stop_latency',
          value: stopped.latencyMs,
          at: stopped.at,
          turnId: signal.speechId,
        });
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
