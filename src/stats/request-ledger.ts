import type { ProviderRef, Signal } from '../ingest/signals.js';
import type { Component, ComponentRequests } from '../types.js';
import { RollingWindow } from './rolling-window.js';

export type RequestOutcome = 'ok' | 'error' | 'cancelled' | 'retry';

export type RequestListener = (
  component: Component,
  outcome: RequestOutcome,
  provider: ProviderRef | undefined,
) => void;

interface Counts {
  requests: number;
  errors: number;
  cancelled: number;
  retries: number;
}

type WindowCounts = Record<Component, { requests: number; errors: number }>;

/** A failed LLM request also reports metrics (with no first token) right after its error. */
const FAILURE_TAIL_MS = 2_000;

const zeroCounts = (): Counts => ({ requests: 0, errors: 0, cancelled: 0, retries: 0 });

/**
 * Counts requests and their outcomes per component, for error rates. A request is one call to
 * a provider as the framework makes it (one LLM chat stream, one TTS stream segment, one STT
 * recognition, one tool execution), however many attempts its retries took:
 * - it succeeds when it completes (a metrics report with output, a final transcript, a tool
 *   result), and fails when the framework gives up on it (an unrecoverable error, a tool error);
 * - failed attempts the framework retried are counted as `retries`, not as requests;
 * - a request cancelled by an interruption is counted as `cancelled`, and in neither the
 *   requests nor the errors, since it says nothing about the provider.
 */
export class RequestLedger {
  private readonly totals: Record<Component, Counts> = {
    stt: zeroCounts(),
    llm: zeroCounts(),
    tts: zeroCounts(),
    function: zeroCounts(),
  };
  private readonly window: RollingWindow<WindowCounts>;
  private readonly failureTails: Record<'llm' | 'tts', number[]> = { llm: [], tts: [] };
  private sttReportsRequests = false;
  /** Components whose window changed since `takeChanged()` was last called. */
  private readonly changed = new Set<Component>();

  constructor(
    windowMs: number,
    private readonly listener: RequestListener = () => {},
  ) {
    this.window = new RollingWindow(windowMs, () => ({
      stt: { requests: 0, errors: 0 },
      llm: { requests: 0, errors: 0 },
      tts: { requests: 0, errors: 0 },
      function: { requests: 0, errors: 0 },
    }));
  }

  handle(signal: Signal): void {
    switch (signal.kind) {
      case 'error':
        if (signal.recoverable) return this.count(signal.component, 'retry', signal.at, signal);
        if (signal.component === 'llm' || signal.component === 'tts') {
          this.failureTails[signal.component].push(signal.at);
        }
        return this.count(signal.component, 'error', signal.at, signal);
      case 'llm_request':
      case 'tts_request': {
        const component = signal.kind === 'llm_request' ? 'llm' : 'tts';
        if (signal.cancelled) return this.count(component, 'cancelled', signal.at, signal);
        const firstOutput = signal.kind === 'llm_request' ? signal.ttftMs : signal.ttfbMs;
        if (firstOutput === undefined && this.consumeFailureTail(component, signal.at)) return;
        return this.count(component, 'ok', signal.at, signal);
      }
      case 'stt_request':
        if (signal.streamed || signal.durationMs <= 0) return;
        this.sttReportsRequests = true;
        return this.count('stt', 'ok', signal.at, signal);
      case 'stt_final_transcript':
        // A streaming STT has no per-request report: each final transcript is a recognition.
        // A realtime model's transcript of its own input (it carries an item id) is not: no STT
        // was asked, the transcription rides on the realtime session (docs/PROVIDERS.md).
        if (signal.itemId === undefined && !this.sttReportsRequests) {
          const provider = signal.provider
            ? { provider: signal.provider, model: signal.model ?? 'unknown' }
            : undefined;
          this.count('stt', 'ok', signal.at, provider);
        }
        return;
      default:
        return;
    }
  }

  toolOutcome(outcome: 'ok' | 'error' | 'cancelled', at: number): void {
    this.count('function', outcome, at, undefined);
  }

  snapshot(component: Component): ComponentRequests {
    const c = this.totals[component];
    return { ...c, errorRate: c.requests > 0 ? (c.errors / c.requests) * 100 : null };
  }

  /** The components whose requests changed since the last call (for alert evaluation). */
  takeChanged(): Component[] {
    const list = [...this.changed];
    this.changed.clear();
    return list;
  }

  /** Requests and errors of `component` within the rolling window. */
  windowCounts(component: Component, now: number): { requests: number; errors: number } {
    let requests = 0;
    let errors = 0;
    for (const bucket of this.window.live(now)) {
      requests += bucket[component].requests;
      errors += bucket[component].errors;
    }
    return { requests, errors };
  }

  private consumeFailureTail(component: 'llm' | 'tts', at: number): boolean {
    const tails = this.failureTails[component];
    while (tails.length > 0 && at - tails[0]! > FAILURE_TAIL_MS) tails.shift();
    return tails.shift() !== undefined;
  }

  private count(
    component: Component,
    outcome: RequestOutcome,
    at: number,
    provider: ProviderRef | undefined,
  ): void {
    const c = this.totals[component];
    if (outcome === 'retry') c.retries += 1;
    else if (outcome === 'cancelled') c.cancelled += 1;
    else {
      c.requests += 1;
      this.changed.add(component);
      const bucket = this.window.bucketAt(at)[component];
      bucket.requests += 1;
      if (outcome === 'error') {
        c.errors += 1;
        bucket.errors += 1;
      }
    }
    // the signal itself carries provider and model: no copy on the hot path
    this.listener(component, outcome, provider);
  }
}
