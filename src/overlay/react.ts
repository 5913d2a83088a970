/**
 * `livekit-agents-metrics/overlay/react`: the agent's metrics as React state, for apps that draw
 * their own UI (e.g. with `@livekit/components-react`: pass `useRoomContext()`). Its own entry,
 * so the overlay entry never imports React.
 */
import { useEffect, useState } from 'react';
import type { AgentMetricsState } from '../view/metrics-feed.js';
import { watchRoom, type MetricsOverlayRoom, type RoomFeedOptions } from './room-feed.js';

export type { AgentMetricsState } from '../view/metrics-feed.js';
export type { MetricsOverlayRoom, MetricsParticipant, RoomFeedOptions } from './room-feed.js';

/**
 * The latest metrics state of the agent publishing in `room` (the most recently updated one when
 * several are; pass `agentIdentity` to pick one), or `undefined` until its first message. The
 * component re-renders on every message that changes it. `room` may be `undefined` (e.g. from
 * `useMaybeRoomContext()`).
 */
export function useAgentMetrics(
  room: MetricsOverlayRoom | undefined,
  options: RoomFeedOptions = {},
): AgentMetricsState | undefined {
  const { topic, agentIdentity, maxAgents } = options;
  const [state, setState] = useState<AgentMetricsState | undefined>(undefined);
  useEffect(() => {
    setState(undefined);
    if (!room) return undefined;
    return watchRoom(room, { topic, agentIdentity, maxAgents }, (feed) => {
      const latest = feed.latest;
      // The feed updates its state objects in place; React needs a new object to see a change.
      setState(latest && { ...latest });
    });
  }, [room, topic, agentIdentity, maxAgents]);
  return state;
}
