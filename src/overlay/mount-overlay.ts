/**
 * `mountMetricsOverlay(room)`: the in-room panel. It owns a shadow root (styles in, page CSS
 * out), re-renders at most every {@link RENDER_INTERVAL_MS}, and leaves nothing behind when
 * unmounted.
 */
import { MetricsConfigError } from '../errors.js';
import type { MetricsFeed } from '../view/metrics-feed.js';
import type {
  BrowserHeardLatencyOptions,
  HeardLatencyRoom,
  measureHeardLatency,
} from './heard-latency.js';
import { renderAgents } from './render-panel.js';
import { watchRoom, type MetricsOverlayRoom, type RoomFeedOptions } from './room-feed.js';
import { applyStyles } from './styles.js';

/** Options of {@link mountMetricsOverlay}. */
export interface MetricsOverlayOptions extends RoomFeedOptions {
  /** Element the panel is rendered into. Default: a panel fixed to the bottom-right corner of
   * `document.body`. */
  target?: HTMLElement;
  /** The panel's heading. Default: `'Agent metrics'`. */
  title?: string;
  /** Start with the panel folded to its heading. Default: `false`. */
  collapsed?: boolean;
  /**
   * Also measure what this caller waits and send it to the agent (see docs/HEARD-LATENCY.md):
   * `{ measure: measureHeardLatency }` from this entry, plus the measurement's options if any.
   * The function is passed in rather than imported by the panel so that an app which does not
   * measure does not ship the measurement (2.4 KiB gzipped). The room must be a livekit-client
   * `Room` with this page's microphone, and an `AudioContext` must be allowed to run (create one
   * after a user gesture and pass it as `audioContext`). A failure to start leaves the panel as
   * it is. Default: none.
   */
  heardLatency?: HeardLatencyOverlayOptions;
  /** Show what the last turn and the session cost, when the agent prices its usage
   * (`attachMetrics(session, { prices })`). Default: `false`. */
  showCost?: boolean;
}

/** The overlay's heard-latency option: the measurement to run, and its options. */
export type HeardLatencyOverlayOptions = BrowserHeardLatencyOptions & {
  measure: typeof measureHeardLatency;
};

/** Coalesces bursts of messages: at most four renders a second. */
const RENDER_INTERVAL_MS = 250;

/**
 * Shows the metrics an agent publishes on the room's data channel: p50/p90 per component, error
 * rates, the bottleneck, active alerts and a waterfall of the last turn. Returns the function
 * that removes the panel and its listeners (calling it again does nothing).
 *
 * @throws MetricsConfigError when `room` or an option is not usable.
 */
export function mountMetricsOverlay(
  room: MetricsOverlayRoom,
  options: MetricsOverlayOptions = {},
): () => void {
  validate(room, options);
  const host = document.createElement('div');
  host.setAttribute('data-lk-metrics-overlay', '');
  const shadow = host.attachShadow({ mode: 'open' });
  applyStyles(shadow);

  const frame = document.createElement('div');
  frame.className = options.target ? 'lkm-root' : 'lkm-root lkm-floating';
  const topbar = document.createElement('div');
  topbar.className = 'lkm-topbar';
  const title = document.createElement('span');
  title.className = 'lkm-title';
  title.textContent = options.title ?? 'Agent metrics';
  const toggle = document.createElement('button');
  toggle.type = 'button';
  toggle.className = 'lkm-toggle';
  const body = document.createElement('div');
  body.className = 'lkm-body';
  const setCollapsed = (collapsed: boolean) => {
    frame.toggleAttribute('data-collapsed', collapsed);
    toggle.textContent = collapsed ? '+' : '−';
    toggle.setAttribute('aria-expanded', String(!collapsed));
    toggle.setAttribute('aria-label', collapsed ? 'Show agent metrics' : 'Hide agent metrics');
  };
  toggle.addEventListener('click', () => setCollapsed(!frame.hasAttribute('data-collapsed')));
  setCollapsed(options.collapsed === true);
  topbar.append(title, toggle);
  frame.append(topbar, body);
  shadow.append(frame);
  body.replaceChildren(...renderAgents([]));
  (options.target ?? document.body ?? document.documentElement).append(host);

  let latest: MetricsFeed | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastRender = -Infinity;
  const render = () => {
    timer = undefined;
    lastRender = performance.now();
    try {
      if (latest) body.replaceChildren(...renderAgents(latest.agents, options.showCost === true));
    } catch {
      // Never throw into the app from a timer: the panel keeps its last good content.
    }
  };
  const stopWatching = watchRoom(room, options, (feed) => {
    latest = feed;
    if (timer !== undefined) return;
    timer = setTimeout(render, Math.max(0, lastRender + RENDER_INTERVAL_MS - performance.now()));
  });

  let mounted = true;
  let stopMeter: (() => unknown) | undefined;
  const heard = options.heardLatency;
  if (heard) {
    const { measure, ...measureOptions } = heard;
    const meterOptions = {
      ...(options.topic ? { topic: options.topic } : {}),
      ...measureOptions,
    };
    measure(room as unknown as HeardLatencyRoom, meterOptions)
      .then((meter) => {
        if (mounted) stopMeter = () => meter.stop();
        else void meter.stop();
      })
      .catch(() => {
        // no AudioWorklet, or a context the page may not start: the panel still works
      });
  }
  return () => {
    if (!mounted) return;
    mounted = false;
    stopMeter?.();
    stopWatching();
    if (timer !== undefined) clearTimeout(timer);
    host.remove();
  };
}

function validate(room: MetricsOverlayRoom, options: MetricsOverlayOptions): void {
  if (typeof document === 'undefined') {
    throw new MetricsConfigError('target', 'there is no document: mount the overlay in a browser');
  }
  const r = room as Partial<Record<'on' | 'off', unknown>> | null | undefined;
  if (typeof r?.on !== 'function' || typeof r.off !== 'function') {
    throw new MetricsConfigError('room', 'expected a livekit-client Room (an object with on/off)');
  }
  if (typeof options !== 'object' || options === null) {
    throw new MetricsConfigError('options', 'expected an object or nothing');
  }
  const { topic, target, agentIdentity, maxAgents, title } = options;
  if (topic !== undefined && (typeof topic !== 'string' || topic === '')) {
    throw new MetricsConfigError(
      'topic',
      'expected the non-empty data topic the agent publishes on',
    );
  }
  if (target !== undefined && (target === null || (target as Node).nodeType !== 1)) {
    throw new MetricsConfigError(
      'target',
      'expected an HTMLElement, or nothing for a floating panel',
    );
  }
  if (agentIdentity !== undefined && typeof agentIdentity !== 'string') {
    throw new MetricsConfigError('agentIdentity', 'expected a participant identity (a string)');
  }
  if (maxAgents !== undefined && !(Number.isInteger(maxAgents) && maxAgents >= 1)) {
    throw new MetricsConfigError('maxAgents', 'expected an integer of at least 1');
  }
  if (title !== undefined && typeof title !== 'string') {
    throw new MetricsConfigError('title', 'expected a string');
  }
  const heard = options.heardLatency;
  if (heard !== undefined && (typeof heard !== 'object' || typeof heard?.measure !== 'function')) {
    throw new MetricsConfigError(
      'heardLatency',
      "expected { measure: measureHeardLatency } (imported from 'livekit-agents-metrics/overlay')",
    );
  }
}
