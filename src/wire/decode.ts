/**
 * Reads a received data packet as an untrusted message. Anything that is not a well-formed
 * message of this version (wrong version or type, garbage bytes, oversize payloads, wrong field
 * types, numbers out of range) yields `null`; a valid one comes back as a fresh object holding
 * only known fields, with every number in range and every string capped (see `schema.ts`), so a
 * renderer can use it without further checks.
 */
import { MAX_MESSAGE_BYTES } from './messages.js';
import {
  type MetricsMessage,
  MetricsMessageSchema,
  type SummaryRequestMessage,
  SummaryRequestSchema,
} from './schema.js';
import { parse } from './schema-kit.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A summary request is tiny; anything bigger is not one. */
const MAX_REQUEST_BYTES = 512;

function parseJson(payload: Uint8Array | ArrayBuffer | string, maxBytes: number): unknown {
  if (typeof payload === 'string') {
    // a UTF-16 length under the byte limit can still be over it in UTF-8: checked on parse
    if (payload.length > maxBytes) return undefined;
    return JSON.parse(payload);
  }
  const bytes = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
  if (bytes.byteLength > maxBytes) return undefined;
  return JSON.parse(decoder.decode(bytes));
}

/** The message in a received payload, or `null` when it is not a valid message. Never throws. */
export function decodeMessage(payload: Uint8Array | ArrayBuffer | string): MetricsMessage | null {
  try {
    return readMessage(parseJson(payload, MAX_MESSAGE_BYTES));
  } catch {
    return null;
  }
}

/** Validates an already-parsed value (e.g. JSON parsed elsewhere) as a message. Never throws. */
export function readMessage(value: unknown): MetricsMessage | null {
  return parse(MetricsMessageSchema, value);
}

/** A viewer's {@link SummaryRequestMessage} in a received payload, or `null`. Never throws. */
export function decodeSummaryRequest(payload: Uint8Array): SummaryRequestMessage | null {
  try {
    return parse(SummaryRequestSchema, parseJson(payload, MAX_REQUEST_BYTES));
  } catch {
    return null;
  }
}
