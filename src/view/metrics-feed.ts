/**
 * Folds received data-channel messages into the current state of each agent in a room: its
 * latest summary, its last turn and its active alerts. Isomorphic; the browser overlay and the
 * `watch` command both render from it.
 */
import type { ActiveAlert, AlertEvent, MetricsSummary, TurnTimeline } from '../types.js';
import { decodeMessage } from '../wire/decode.js';
import type { MetricsMessage } from '../wire/messages.js';

/** What is known about one publishing agent. */
export interface AgentMetricsState {
  /** Identity of the participant that published (empty when the transport did not say). */
  sender: string;
  /** Id of the publishing session; a new one replaces the state. */
  session: string;
  room: string;
  summary: MetricsSummary | undefined;
  /** The session closed and this is its final summary. */
  final: boolean;
  lastTurn: TurnTimeline | undefined;
  /** Active alerts: the summary's, updated by each alert message since. */
  alerts: ActiveAlert[];
  /** Highest sequence number applied. */
  seq: number;
  /** Epoch ms of the last applied message, by the publisher's clock. */
  updatedAt: number;
  /** Messages applied for this session. */
  received: number;
}

export interface MetricsFeedOptions {
  /** Publishing agents tracked at once; the least recently updated is forgotten. Default: `8`. */
  maxAgents?: number;
}

/** Receiver-side state of every agent publishing on one topic. */
export class MetricsFeed {
  private readonly states = new Map<string, AgentMetricsState>();
  private readonly maxAgents: number;
  /** Payloads that were not valid messages. */
  rejected = 0;

  constructor(options: MetricsFeedOptions = {}) {
    this.maxAgents = Math.max(1, options.maxAgents ?? 8);
  }

  /** Decodes and applies a raw payload: the message if it changed the state, else `null`. Never
   * throws; a payload that is not a valid message counts in {@link rejected}. */
  receive(payload: Uint8Array | ArrayBuffer | string, sender = ''): MetricsMessage | null {
    const message = decodeMessage(payload);
    if (!message) {
      this.rejected += 1;
      return null;
    }
    return this.apply(message, sender) ? message : null;
  }

  /** Applies a validated message; `false` when it was stale or a repeat. */
  apply(message: MetricsMessage, sender = ''): boolean {
    let state = this.states.get(sender);
    if (state && state.session !== message.session) {
      if (message.at < state.updatedAt) return false; // a late packet of a session gone by
      state = undefined;
    }
    if (!state) {
      state = {
        sender,
        session: message.session,
        room: message.room,
        summary: undefined,
        final: false,
        lastTurn: undefined,
        alerts: [],
        seq: 0,
        updatedAt: message.at,
        received: 0,
      };
    } else if (message.seq <= state.seq) {
      return false;
    }
    state.seq = message.seq;
    state.updatedAt = message.at;
    state.room = message.room;
    state.received += 1;
    switch (message.type) {
      case 'summary':
        state.summary = message.summary;
        state.final = message.final;
        state.alerts = message.summary.alerts;
        break;
      case 'turn':
        state.lastTurn = message.turn;
        break;
      case 'alert':
        state.alerts = applyAlert(state.alerts, message.alert);
        break;
    }
    this.states.delete(sender);
    this.states.set(sender, state);
    while (this.states.size > this.maxAgents) {
      const oldest = this.states.keys().next().value as string;
      this.states.delete(oldest);
    }
    return true;
  }

  /** Every tracked agent, least recently updated first. */
  get agents(): AgentMetricsState[] {
    return [...this.states.values()];
  }

  /** The most recently updated agent. */
  get latest(): AgentMetricsState | undefined {
    let last: AgentMetricsState | undefined;
    for (const state of this.states.values()) last = state;
    return last;
  }

  /** Forgets an agent (e.g. when its participant leaves). */
  forget(sender: string): void {
    this.states.delete(sender);
  }
}

function sameAlert(a: ActiveAlert, b: ActiveAlert): boolean {
  return a.metric === b.metric && a.component === b.component;
}

function applyAlert(active: ActiveAlert[], event: AlertEvent): ActiveAlert[] {
  const rest = active.filter((a) => !sameAlert(a, event));
  if (event.state === 'cleared') return rest;
  const alert: ActiveAlert = { ...event };
  delete (alert as Partial<AlertEvent>).state;
  return [...rest, alert];
}
