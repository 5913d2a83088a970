/**
 * The data-channel wire format: what an agent publishes to the people in its room, and what the
 * overlay and `watch` read. Isomorphic: this folder imports nothing from Node or the DOM, and
 * `tsconfig.browser.json` compiles it for the browser to keep it that way.
 *
 * Every message is UTF-8 JSON `{ v: 1, type, ... }`, published reliably on one topic, and at most
 * {@link MAX_MESSAGE_BYTES} long (LiveKit's reliable-packet limit). A receiver treats every message
 * as untrusted and validates it (see `decode.ts`).
 */
import type { AlertEvent, MetricsSummary, TurnTimeline } from '../types.js';

/** Version of the wire format; a receiver ignores messages of any other version. */
export const WIRE_VERSION = 1;

/** Topic the publisher uses by default. LiveKit reserves `lk.`-prefixed topics for itself. */
export const DEFAULT_TOPIC = 'agent-metrics';

/** LiveKit drops reliable data packets larger than 15 KiB; every message stays at or under it. */
export const MAX_MESSAGE_BYTES = 15 * 1024;

/** RPC method a participant calls on the agent to get the current summary at once (late joiners,
 * hidden observers). Derived from the topic so two publishers on different topics don't collide. */
export function summaryRpcMethod(topic: string): string {
  return `${topic}.summary`;
}

interface MessageBase {
  v: 1;
  /** Random id of the publishing session; a new id from the same participant means a new session. */
  session: string;
  /** Per-publisher sequence number, from 1; a receiver can drop stale or repeated messages. */
  seq: number;
  /** Epoch ms at which the publisher built the message. */
  at: number;
  /** Name of the room the agent is in. */
  room: string;
  /** What was left out to stay under {@link MAX_MESSAGE_BYTES} (e.g. `function.by_name`); absent
   * when nothing was. */
  shed?: string[];
}

/** The session's `summary()`: sent at most every `intervalMs` while it changes, to a joining
 * participant, in answer to the summary RPC, and once more (`final: true`) when the session closes. */
export interface SummaryMessage extends MessageBase {
  type: 'summary';
  final: boolean;
  summary: MetricsSummary;
}

/** A turn completed: its timeline (STT → end of turn → LLM → tools → TTS). */
export interface TurnMessage extends MessageBase {
  type: 'turn';
  turn: TurnTimeline;
}

/** An alert level was raised or cleared. */
export interface AlertMessage extends MessageBase {
  type: 'alert';
  alert: AlertEvent;
}

export type MetricsMessage = SummaryMessage | TurnMessage | AlertMessage;

/**
 * The one message a viewer sends: it asks the agent to send it the current summary. Answered with
 * a `summary` sent to the asker alone. It serves the viewers the RPC can't: LiveKit does not
 * deliver RPCs from hidden participants (such as `watch`), but it does deliver their data.
 */
export interface SummaryRequestMessage {
  v: 1;
  type: 'summary_request';
  /** The asker's identity. The SDK does not name the sender of a hidden participant's packet, so
   * the request says whom to answer (still only a participant allowed to receive the metrics). */
  identity: string;
}
export type MetricsMessageType = MetricsMessage['type'];
