import { processSessions } from '../stats/session-gauge.js';
import type { Labels } from './series-store.js';
import { SeriesStore, sameLayout } from './series-store.js';
import { type BucketLayout, DEFAULT_BUCKETS } from './metric-families.js';
import { FunctionNameCap, SessionSeriesSink } from './series-sink.js';
import { HubClient } from './hub/hub-client.js';
import { HUB_ENV, parseHubAddress } from './hub/protocol.js';

/**
 * This process's Prometheus state: every attached session records into one SeriesStore. In a
 * job process of a worker whose main process runs the metrics server (found through the
 * environment), a HubClient delivers what was recorded to the hub; otherwise the store is read
 * by a metrics server in this process.
 */
export class ProcessExporter {
  store: SeriesStore;
  readonly functionNames = new FunctionNameCap();
  private hub: HubClient | undefined;
  private hubChecked = false;

  constructor(layout: BucketLayout) {
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
    return processSessions.active;
  }

  get peakSessions(): number {
    return processSessions.peak;
  }

  /** In a job process, delivers what is pending to the hub and waits (bounded) for the ack. */
  async drain(timeoutMs = 1_000): Promise<void> {
    await this.hub?.drain(timeoutMs);
  }

  /** Whether a hub client delivers this process's samples elsewhere. */
  get deliversToHub(): boolean {
    return this.hub !== undefined;
  }

  private connectHubOnce(): void {
    if (this.hubChecked) return;
    this.hubChecked = true;
    const address = parseHubAddress(process.env[HUB_ENV]);
    // The process that runs the hub records into its own store directly.
    if (!address || hubInThisProcess) return;
    this.hub = new HubClient(address, this);
  }
}

let instance: ProcessExporter | undefined;
let hubInThisProcess = false;

/** This process's exporter, created on first use with the hub's bucket layout if there is one. */
export function processExporter(): ProcessExporter {
  if (!instance) {
    const address = parseHubAddress(process.env[HUB_ENV]);
    instance = new ProcessExporter(address?.layout ?? DEFAULT_BUCKETS);
  }
  return instance;
}

/**
 * Called by startMetricsServer: this process serves /metrics (and hosts the hub), with this
 * bucket layout. Sessions attached earlier with another layout can not be converted.
 */
export function serveFromThisProcess(layout: BucketLayout): ProcessExporter {
  hubInThisProcess = true;
  if (instance && !sameLayout(instance.layout, layout)) {
    if (hasData(instance)) {
      throw new Error('buckets changed after sessions recorded metrics');
    }
    instance = undefined;
  }
  instance ??= new ProcessExporter(layout);
  return instance;
}

function hasData(exporter: ProcessExporter): boolean {
  const snap = exporter.store.snapshot();
  return Object.keys(snap.histograms).length > 0 || Object.keys(snap.counters).length > 0;
}
