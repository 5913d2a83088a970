/**
 * The data-channel wire format: what an agent publishes to the people in its room, and what the
 * overlay and `watch` read. Isomorphic: this folder imports nothing from Node or the DOM, and
 * `tsconfig.browser.json` compiles it for the browser to keep it that way.
 *
 * Every message is UTF-8 JSON `{ v: 2, type, ... }`, published reliably on one topic, and at most
 * {@link MAX_MESSAGE_BYTES} long (LiveKit's reliable-packet limit). The shapes are the schemas in
 * `schema.ts`; a receiver treats every message as untrusted and validates it (see `decode.ts`).
 */
export type {
  AlertMessage,
  MetricsMessage,
  SummaryMessage,
  SummaryRequestMessage,
  TurnMessage,
} from './schema.js';
import type { MetricsMessage } from './schema.js';

/** Version of the wire format; a receiver ignores messages of any other version. Version 2: the
 * summary keeps every stat under `stats.<name>` (the catalog's names) and uses camelCase keys. */
export const WIRE_VERSION = 2 as const;

/** Topic the publisher uses by default. LiveKit reserves `lk.`-prefixed topics for itself. */
export const DEFAULT_TOPIC = 'agent-metrics';

/** LiveKit drops reliable data packets larger than 15 KiB; every message stays at or under it. */
export const MAX_MESSAGE_BYTES = 15 * 1024;

/** RPC method a participant calls on the agent to get the current summary at once (late joiners,
 * hidden observers). Derived from the topic so two publishers on different topics don't collide. */
export function summaryRpcMethod(topic: string): string {
  return `${topic}.summary`;
}

export type MetricsMessageType = MetricsMessage['type'];
