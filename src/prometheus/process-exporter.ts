import type { SessionGauge } from '../stats/session-gauge.js';
import type { Labels } from './series-store.js';
import { SeriesStore, sameLayout } from './series-store.js';
import type { BucketLayout } from './metric-families.js';
import { FunctionNameCap, SessionSeriesSink } from './series-sink.js';
import { HubClient } from './hub/hub-client.js';
import type { HubAddress } from './hub/protocol.js';

/**
 * A runtime's Prometheus state: every attached session records into one SeriesStore. In a job
 * process of a worker whose main process runs the metrics server, a HubClient delivers what was
 * recorded to the hub (`hubAddress`); otherwise the store is read by a metrics server in this
 * process.
 */
export class ProcessExporter {
  store: SeriesStore;
  readonly functionNames = new FunctionNameCap();
  private hub: HubClient | undefined;
  private hubChecked = false;
  /** Set once this process serves /metrics itself: it then never delivers to a hub. */
  private serving = false;

  constructor(
    layout: BucketLayout,
    private readonly sessions: SessionGauge,
    private readonly hubAddress: HubAddress | undefined,
  ) {
    this.store = new SeriesStore(layout);
  }

  get layout(): BucketLayout {
    return this.store.layout;
  }

  /** A sink for one session's samples, with its constant labels. */
  sinkFor(constLabels: Labels): SessionSeriesSink {
    this.connectHubOnce();
    return new SessionSeriesSink(this, constLabels, this.functionNames);
  }

  /** Hands over what was recorded since the last call, and starts a fresh delta. */
  takeDelta(): SeriesStore {
    const taken = this.store;
    this.store = new SeriesStore(taken.layout);
    return taken;
  }

  /** Sends what is pending now (a session closed), rather than at the next interval. */
  flushSoon(): void {
    this.hub?.flushSoon();
  }

  get activeSessions(): number {
    return this.sessions.active;
  }

  get peakSessions(): number {
    return this.sessions.peak;
  }

  /** In a job process, delivers what is pending to the hub and waits (bounded) for the ack. */
  async drain(timeoutMs = 1_000): Promise<void> {
    await this.hub?.drain(timeoutMs);
  }

  /** Whether a hub client delivers this process's samples elsewhere. */
  get deliversToHub(): boolean {
    return this.hub !== undefined;
  }

  /**
   * This process serves /metrics (and hosts the hub) with this bucket layout. Samples recorded
   * earlier under another layout can not be converted: that throws.
   */
  serveHere(layout: BucketLayout): void {
    if (this.hub) throw new Error('this runtime already delivers its samples to a worker hub');
    this.serving = true;
    if (sameLayout(this.store.layout, layout)) return;
    if (!this.store.isEmpty) throw new Error('buckets changed after sessions recorded metrics');
    this.store = new SeriesStore(layout);
  }

  private connectHubOnce(): void {
    if (this.hubChecked) return;
    this.hubChecked = true;
    // The process that runs the hub records into its own store directly.
    if (!this.hubAddress || this.serving) return;
    this.hub = new HubClient(this.hubAddress, this);
  }
}
