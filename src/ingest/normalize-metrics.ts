/**
 * The framework's `metrics_collected` reports (`AgentMetrics`, already in ms) as signals:
 * request timings, usage, end of turn, backchannels and end-of-turn inference.
 */
import type { UsageComponent, UsageField } from '../types.js';
import {
  type Obj,
  type OddFieldSink,
  isObj,
  num,
  optionalNumber,
  providerOf,
  requestIdOf,
  str,
} from './read-fields.js';
import type { Signal, UsageReport } from './signals.js';

/** The usage fields of a report, from its own fields (`[usage field, report field path]`). */
function usageOf(
  m: Obj,
  component: UsageComponent,
  fields: readonly (readonly [UsageField, string, string?])[],
  where: string,
  odd: OddFieldSink,
): { usage?: UsageReport } {
  const amounts: Partial<Record<UsageField, number>> = {};
  let any = false;
  for (const [field, key, sub] of fields) {
    const holder = sub === undefined ? m : isObj(m[key]) ? (m[key] as Obj) : undefined;
    if (!holder) continue;
    const v = num(holder, sub ?? key, where, odd);
    // usage is a count or a duration: a negative or absurd one is a provider's bug, not usage
    if (v === undefined || v < 0 || v > Number.MAX_SAFE_INTEGER) continue;
    amounts[field] = v;
    any = true;
  }
  return any ? { usage: { component, amounts } } : {};
}

const LLM_USAGE = [
  ['promptTokens', 'promptTokens'],
  ['promptCachedTokens', 'promptCachedTokens'],
  ['completionTokens', 'completionTokens'],
] as const;
const REALTIME_USAGE = [
  ['inputTextTokens', 'inputTokenDetails', 'textTokens'],
  ['inputAudioTokens', 'inputTokenDetails', 'audioTokens'],
  ['inputImageTokens', 'inputTokenDetails', 'imageTokens'],
  ['inputCachedTokens', 'inputTokenDetails', 'cachedTokens'],
  ['outputTextTokens', 'outputTokenDetails', 'textTokens'],
  ['outputAudioTokens', 'outputTokenDetails', 'audioTokens'],
] as const;
const TTS_USAGE = [
  ['ttsCharacters', 'charactersCount'],
  ['ttsAudioMs', 'audioDurationMs'],
] as const;
const STT_USAGE = [['sttAudioMs', 'audioDurationMs']] as const;

/** Duration and time-to-first-output of a request report; undefined when the duration is unusable.
 * The framework reports -1 as the first output when none arrived (a failed or empty request). */
function requestTiming(m: Obj, where: string, firstOutputField: string, odd: OddFieldSink) {
  const durationMs = num(m, 'durationMs', where, odd);
  if (durationMs === undefined || durationMs < 0) {
    odd(`${where}.durationMs`);
    return undefined;
  }
  const first = num(m, firstOutputField, where, odd);
  return { durationMs, firstOutputMs: first !== undefined && first >= 0 ? first : undefined };
}

/** One report, as each reader takes it. */
interface Report {
  m: Obj;
  /** When the framework made the report (the event's time when it does not say). */
  timestamp: number;
  speechId: string | undefined;
  /** The report's type, for the odd fields it has. */
  where: string;
  odd: OddFieldSink;
}

/** An STT recognition (with its audio, for usage). */
function sttRequest(r: Report): Signal[] {
  const { m, timestamp, odd } = r;
  const durationMs = num(m, 'durationMs', 'stt_metrics', odd) ?? 0;
  const streamed = m.streamed === true;
  return [
    {
      kind: 'stt_request',
      at: timestamp,
      durationMs,
      streamed,
      ...requestIdOf(m),
      ...usageOf(m, 'stt', STT_USAGE, 'stt_metrics', odd),
      ...providerOf(m.metadata, m.label),
    },
  ];
}

/** An LLM (or realtime model) response: its timing, tokens and usage. */
function llmRequest(r: Report): Signal[] {
  const { m, timestamp, speechId, where, odd } = r;
  const timing = requestTiming(m, where, 'ttftMs', odd);
  if (!timing) return [];
  const { durationMs } = timing;
  const tokens =
    num(m, where === 'llm_metrics' ? 'completionTokens' : 'outputTokens', where, odd) ?? 0;
  return [
    {
      kind: 'llm_request',
      at: timestamp,
      speechId,
      startedAt: timestamp - durationMs,
      ttftMs: timing.firstOutputMs,
      durationMs,
      cancelled: m.cancelled === true,
      ...(where === 'realtime_model_metrics' ? { realtime: true } : {}),
      completionTokens: tokens,
      tokensPerSec: num(m, 'tokensPerSecond', where, odd) ?? 0,
      ...requestIdOf(m),
      ...(where === 'llm_metrics'
        ? usageOf(m, 'llm', LLM_USAGE, where, odd)
        : usageOf(m, 'realtime', REALTIME_USAGE, where, odd)),
      ...providerOf(m.metadata, m.label),
    },
  ];
}

/** A TTS synthesis: its timing, characters and audio. */
function ttsRequest(r: Report): Signal[] {
  const { m, timestamp, speechId, odd } = r;
  const timing = requestTiming(m, 'tts_metrics', 'ttfbMs', odd);
  if (!timing) return [];
  const { durationMs } = timing;
  return [
    {
      kind: 'tts_request',
      at: timestamp,
      speechId,
      startedAt: timestamp - durationMs,
      ttfbMs: timing.firstOutputMs,
      durationMs,
      cancelled: m.cancelled === true,
      streamed: m.streamed === true,
      ...requestIdOf(m),
      ...optionalNumber(m, 'charactersCount', 'tts_metrics', odd),
      ...optionalNumber(m, 'audioDurationMs', 'tts_metrics', odd),
      ...usageOf(m, 'tts', TTS_USAGE, 'tts_metrics', odd),
      ...providerOf(m.metadata, m.label),
    },
  ];
}

/** The end of the user's spoken turn. */
function endOfTurn(r: Report): Signal[] {
  const { m, timestamp, speechId, odd } = r;
  const stoppedSpeakingAt = num(m, 'lastSpeakingTimeMs', 'eou_metrics', odd);
  // 0 means the framework did not detect the end of speech: nothing to anchor on.
  if (!stoppedSpeakingAt) return [];
  return [
    {
      kind: 'end_of_turn',
      at: timestamp,
      speechId,
      stoppedSpeakingAt,
      transcriptionDelayMs: num(m, 'transcriptionDelayMs', 'eou_metrics', odd) ?? 0,
      endOfTurnDelayMs: num(m, 'endOfUtteranceDelayMs', 'eou_metrics', odd) ?? 0,
    },
  ];
}

/** Backchannels the interruption model heard since its previous report. */
function backchannels(r: Report): Signal[] {
  const { m, timestamp, odd } = r;
  // numBackchannels counts those detected since the model's previous report
  const n = num(m, 'numBackchannels', 'interruption_metrics', odd);
  return n !== undefined && n > 0 && Number.isInteger(n) && n < 1e6
    ? [{ kind: 'backchannels', at: timestamp, count: n }]
    : [];
}

/** The end-of-turn model: audio frame to its prediction. */
function eotInference(r: Report): Signal[] {
  const { m, timestamp, odd } = r;
  const delayMs = num(m, 'detectionDelay', 'eot_inference_metrics', odd);
  return delayMs !== undefined && delayMs >= 0
    ? [{ kind: 'eot_inference', at: timestamp, delayMs }]
    : [];
}

type Reader = (report: Report) => Signal[];

/** The reports the metrics use, by their `type`. */
const READERS: Readonly<Record<string, Reader>> = {
  stt_metrics: sttRequest,
  llm_metrics: llmRequest,
  realtime_model_metrics: llmRequest,
  tts_metrics: ttsRequest,
  eou_metrics: endOfTurn,
  interruption_metrics: backchannels,
  eot_inference_metrics: eotInference,
};

/** One `metrics_collected` report as signals (none for a report the metrics do not use). */
export function normalizeMetrics(m: Obj, at: number, odd: OddFieldSink): Signal[] {
  const type = m.type;
  if (typeof type !== 'string' || !Object.hasOwn(READERS, type)) return [];
  const timestamp = num(m, 'timestamp', type, odd) ?? at;
  return READERS[type]!({ m, timestamp, speechId: str(m, 'speechId'), where: type, odd });
}
