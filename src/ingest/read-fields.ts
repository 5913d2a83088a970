/**
 * Reading the framework's events: their fields, defensively. Every reader returns a value or
 * undefined and counts a field that is present but odd, so a provider plugin's oddity is visible
 * and never fatal.
 */
import type { ProviderRef } from './signals.js';

/** Counts fields that were missing or odd, by `event.field`, so they are visible, not fatal. */
export type OddFieldSink = (field: string) => void;

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null;

/** A finite number or undefined; anything else present is counted as odd. */
export function num(o: Obj, field: string, where: string, odd: OddFieldSink): number | undefined {
  const v = o[field];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v !== undefined && v !== null) odd(`${where}.${field}`);
  return undefined;
}

/** Longest tool, provider, model or speech id name kept: they become label values and keys of
 * the summary, and an LLM can invent a tool name of any length. */
export const MAX_NAME_LENGTH = 128;

/** A non-empty string field, cut to {@link MAX_NAME_LENGTH} characters. */
export function str(o: Obj, field: string): string | undefined {
  const v = o[field];
  if (typeof v !== 'string' || v.length === 0) return undefined;
  return v.length > MAX_NAME_LENGTH ? `${v.slice(0, MAX_NAME_LENGTH - 1)}…` : v;
}

/** `ChatMessage.metrics` are in seconds; this is the one place they become milliseconds. */
export const secondsToMs = (s: number | undefined) => (s === undefined ? undefined : s * 1000);

/** Provider and model from the framework's metrics metadata, falling back to the label. */
export function providerOf(metadata: unknown, label: unknown): ProviderRef {
  const meta = isObj(metadata) ? metadata : {};
  const provider = str(meta, 'modelProvider');
  const model = str(meta, 'modelName');
  const fallback = str({ label }, 'label') ?? 'unknown';
  return {
    provider: provider && provider !== 'unknown' ? provider : fallback,
    model: model ?? 'unknown',
  };
}

export function providerOfSource(source: unknown): ProviderRef {
  if (!isObj(source)) return { provider: 'unknown', model: 'unknown' };
  // `provider`/`model` are getters on the framework's LLM/STT/TTS classes; they may throw in
  // third-party subclasses, so read them defensively.
  const read = (key: string): unknown => {
    try {
      return source[key];
    } catch {
      return undefined;
    }
  };
  let label = read('label');
  if (typeof label === 'function') {
    try {
      label = (label as () => unknown).call(source);
    } catch {
      label = undefined;
    }
  }
  return providerOf({ modelProvider: read('provider'), modelName: read('model') }, label);
}

/**
 * Provider and model of the session's LLM, for a realtime model's reports: they carry no
 * `metadata` (@livekit/agents-plugin-openai 1.9 realtime_model.ts handleResponseDone), while
 * the model itself says both (`RealtimeModel.provider`, `.model`: public API). The running
 * agent's own LLM, if any, replaces the session's.
 */
export function sessionModelOf(session: unknown): ProviderRef {
  const read = (o: unknown, key: string): unknown => {
    try {
      return isObj(o) ? o[key] : undefined;
    } catch {
      return undefined;
    }
  };
  return providerOfSource(read(read(session, 'currentAgent'), 'llm') ?? read(session, 'llm'));
}

export function optionalNumber<K extends string>(
  m: Obj,
  field: K,
  where: string,
  odd: OddFieldSink,
): Partial<Record<K, number>> {
  const v = num(m, field, where, odd);
  return v === undefined ? {} : ({ [field]: v } as Record<K, number>);
}

/** The framework's request id, bounded: it is only used as a key, and a provider may invent it. */
export function requestIdOf(m: Obj): { requestId?: string } {
  const id = str(m, 'requestId');
  return id && id.length <= 200 ? { requestId: id } : {};
}
