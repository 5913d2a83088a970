import type { Component, UsageComponent, UsageField } from '../types.js';

/** What one provider request reported it used, for the catalog's usage quantities. */
export interface UsageReport {
  component: UsageComponent;
  amounts: Partial<Record<UsageField, number>>;
}

/** Which provider served a request, as the framework's metrics metadata tells it. */
export interface ProviderRef {
  provider: string;
  model: string;
}

/**
 * Framework events, normalized: one shape per fact the metrics need, in milliseconds and epoch
 * milliseconds, with provider-specific oddities already resolved. Everything downstream of
 * `normalize.ts` consumes only these.
 */
export type Signal =
  | {
      kind: 'speech_created';
      at: number;
      speechId: string;
      source: string;
      /** False for a reply the framework did not start on anyone's call: a realtime model's
       * answer to speech its server-side turn detection ended (`generate_reply`), or a tool's
       * follow-up (`tool_response`). Absent when the event does not say. */
      userInitiated?: boolean;
      traceId?: string;
    }
  | {
      kind: 'speech_done';
      at: number;
      speechId: string;
      interrupted: boolean;
      /** False when the speech was never scheduled, so never played: a preemptive generation the
       * framework discarded (voice/agent_activity.ts cancelPreemptiveGeneration). */
      scheduled?: boolean;
    }
  | {
      /** End of the user's spoken turn, from the framework's end-of-utterance metrics. */
      kind: 'end_of_turn';
      at: number;
      speechId?: string;
      stoppedSpeakingAt: number;
      transcriptionDelayMs: number;
      endOfTurnDelayMs: number;
    }
  | {
      /** The user's turn committed to the chat (voice turns carry their speech timing). */
      kind: 'user_message';
      at: number;
      createdAt: number;
      stoppedSpeakingAt?: number;
      transcriptionDelayMs?: number;
      endOfTurnDelayMs?: number;
      /** The chat item's id (a realtime model's input transcript carries its item id). */
      itemId?: string;
    }
  | ({
      kind: 'stt_final_transcript';
      at: number;
      /** The realtime model's item id: a transcription of the realtime model's own input (no
       * STT made it). Absent for an STT's transcript. */
      itemId?: string;
    } & Partial<ProviderRef>)
  | ({
      kind: 'stt_request';
      at: number;
      durationMs: number;
      streamed: boolean;
      /** The framework's id of the provider request, when it reports one. */
      requestId?: string;
      usage?: UsageReport;
    } & ProviderRef)
  | ({
      kind: 'llm_request';
      at: number;
      speechId?: string;
      startedAt: number;
      /** Absent when no token arrived (a failed or empty request). */
      ttftMs?: number;
      durationMs: number;
      cancelled: boolean;
      /** A realtime model's response (its report names no model: the session's model does). */
      realtime?: boolean;
      completionTokens: number;
      tokensPerSec: number;
      requestId?: string;
      traceId?: string;
      usage?: UsageReport;
    } & ProviderRef)
  | ({
      kind: 'tts_request';
      at: number;
      speechId?: string;
      startedAt: number;
      ttfbMs?: number;
      durationMs: number;
      cancelled: boolean;
      /** Reported by a streaming synthesis (the framework's stream adapters report so too). */
      streamed?: boolean;
      requestId?: string;
      /** Characters synthesized and audio produced, as the framework reports them. */
      charactersCount?: number;
      audioDurationMs?: number;
      traceId?: string;
      usage?: UsageReport;
    } & ProviderRef)
  | ({ kind: 'error'; at: number; component: Component; recoverable: boolean } & ProviderRef)
  | { kind: 'tool_started'; at: number; speechId?: string; callId: string; name: string }
  | {
      kind: 'tool_finished';
      at: number;
      speechId?: string;
      callId: string;
      name: string;
      /** Absent when reported live by the speech handle; the start is then known already. */
      startedAt?: number;
      isError: boolean;
    }
  | {
      /** The user's voice started in the audio the agent received (src/heard/): the first voiced
       * sample of an utterance arrived at `firstVoicedAt`, agent clock. */
      kind: 'user_audio_started';
      at: number;
      firstVoicedAt: number;
    }
  | {
      /** The user's voice went quiet in the audio the agent received (src/heard/): its last
       * voiced sample arrived at `lastVoicedAt`, agent clock. */
      kind: 'user_audio_ended';
      at: number;
      lastVoicedAt: number;
    }
  | {
      /** The first audible sample of the agent's audio left it (src/heard/): the segment's first
       * frame was handed to the output at `startedAt`, agent clock. */
      kind: 'agent_audio_out';
      at: number;
      startedAt: number;
      audibleAt: number;
    }
  | { kind: 'agent_speaking'; at: number }
  /** The agent's state changed (`agent_state_changed`). */
  | { kind: 'agent_state'; at: number; state: string }
  /** The caller's state changed (`user_state_changed`): `speaking` at the VAD's start of speech. */
  | { kind: 'user_state'; at: number; state: string }
  | { kind: 'false_interruption'; at: number; resumed: boolean }
  /** Backchannels the adaptive interruption model detected since its previous report. */
  | { kind: 'backchannels'; at: number; count: number }
  | { kind: 'eot_inference'; at: number; delayMs: number }
  | {
      kind: 'agent_message';
      at: number;
      interrupted: boolean;
      startedSpeakingAt?: number;
      e2eLatencyMs?: number;
    }
  | { kind: 'session_closed'; at: number };
