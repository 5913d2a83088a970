/**
 * Which remote participant the caller meter measures as the agent. Pure: it is given what the
 * room shows of each participant.
 *
 * An agent worker joins as a participant of kind agent, but a bot joined with a plain token (or
 * an agent whose token lacks the kind) is a standard participant. So, in order: the identity the
 * caller named; else the one participant of kind agent that publishes audio; else the one
 * remote participant that publishes audio. Where several could be it, none is chosen and the
 * caller is told to name it: measuring the wrong track would report a latency nobody waited.
 */

/** A remote participant, as the meter sees it. */
export interface AgentCandidate {
  identity: string;
  /** It joined as a participant of kind agent. */
  isAgent: boolean;
  /** It publishes at least one audio track. */
  publishesAudio: boolean;
}

export type AgentChoice =
  /** How it was chosen: named by the caller, the one of kind agent, the one publishing audio. */
  | { identity: string; by: 'identity' | 'kind' | 'only_audio'; ambiguous?: undefined }
  /** Several could be the agent (their identities, sorted; of kind agent or not): none is
   * measured. */
  | { identity?: undefined; ambiguous: string[]; ofKindAgent: boolean }
  /** None yet. */
  | { identity?: undefined; ambiguous?: undefined };

export interface AgentChoiceOptions {
  /** The identity the caller named (`agentIdentity`): only that participant is the agent. */
  agentIdentity?: string;
  /** The participant measured so far: of several of kind agent, it stays the one. */
  current?: string;
}

export function chooseAgent(
  candidates: Iterable<AgentCandidate>,
  { agentIdentity, current }: AgentChoiceOptions = {},
): AgentChoice {
  const agents: string[] = [];
  const others: string[] = [];
  for (const c of candidates) {
    if (!c.publishesAudio) continue;
    if (agentIdentity !== undefined) {
      if (c.identity === agentIdentity) return { identity: c.identity, by: 'identity' };
    } else (c.isAgent ? agents : others).push(c.identity);
  }
  if (agentIdentity !== undefined) return {};
  if (current !== undefined && agents.includes(current)) return { identity: current, by: 'kind' };
  const ofKindAgent = agents.length > 0;
  const pool = ofKindAgent ? agents : others;
  if (pool.length === 1) return { identity: pool[0]!, by: ofKindAgent ? 'kind' : 'only_audio' };
  return pool.length > 1 ? { ambiguous: [...new Set(pool)].sort(), ofKindAgent } : {};
}

/** The warning for an ambiguous choice: who could be the agent, and what to pass. */
export function ambiguousAgentMessage({
  ambiguous: identities,
  ofKindAgent,
}: {
  ambiguous: readonly string[];
  ofKindAgent: boolean;
}): string {
  const shown = identities.slice(0, 5).map((id) => JSON.stringify(id.slice(0, 64)));
  const more = identities.length > 5 ? `, and ${identities.length - 5} more` : '';
  const who = ofKindAgent
    ? `${identities.length} participants of kind agent publish audio`
    : `no participant of kind agent publishes audio, and ${identities.length} others do`;
  return (
    `heard latency: ${who} (${shown.join(', ')}${more}); pass ` +
    `measureHeardLatency(room, { agentIdentity }) with the agent's identity to say which. ` +
    `Nothing is measured until then.`
  );
}
