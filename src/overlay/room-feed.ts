/**
 * Listens to a `livekit-client` Room for metrics messages and folds them into a MetricsFeed;
 * both the overlay and the React hook sit on it. The room is typed by what is used, so
 * livekit-client is never imported (the app brings its own copy).
 */
import { MetricsFeed } from '../view/metrics-feed.js';
import { DEFAULT_TOPIC, summaryRpcMethod } from '../wire/messages.js';

/** The parts of a `livekit-client` Participant the overlay reads. */
export interface MetricsParticipant {
  readonly identity: string;
  /** livekit-client's `RemoteParticipant.isAgent`; when absent, the participant may be one. */
  readonly isAgent?: boolean;
}

/** Listener of livekit-client's `RoomEvent.DataReceived` (`'dataReceived'`). */
export type DataReceivedListener = (
  payload: Uint8Array,
  participant?: MetricsParticipant,
  kind?: unknown,
  topic?: string,
) => void;

export type ParticipantListener = (participant: MetricsParticipant) => void;

/** The parts of a `livekit-client` Room the overlay uses; a `Room` fits as it is. */
export interface MetricsOverlayRoom {
  on(event: 'dataReceived', listener: DataReceivedListener): unknown;
  on(event: 'participantConnected', listener: ParticipantListener): unknown;
  on(event: 'connected', listener: () => void): unknown;
  off(event: 'dataReceived', listener: DataReceivedListener): unknown;
  off(event: 'participantConnected', listener: ParticipantListener): unknown;
  off(event: 'connected', listener: () => void): unknown;
  /** Other participants, for asking agents already in the room for their summary. */
  readonly remoteParticipants?: ReadonlyMap<string, MetricsParticipant>;
  readonly localParticipant?: {
    performRpc?(params: {
      destinationIdentity: string;
      method: string;
      payload: string;
      responseTimeout?: number;
    }): Promise<string>;
  };
}

export interface RoomFeedOptions {
  /** Data topic the agent publishes on. Default: `'agent-metrics'` (the publisher's default). */
  topic?: string;
  /** Only read messages from this participant. Default: every participant. */
  agentIdentity?: string;
  /** Publishing agents tracked at once. Default: `4`. */
  maxAgents?: number;
}

/**
 * Calls `onChange(feed)` after every message that changed the state, until the returned function
 * is called. Nothing a sender puts in a packet can make it throw into the room's event emitter.
 */
export function watchRoom(
  room: MetricsOverlayRoom,
  options: RoomFeedOptions,
  onChange: (feed: MetricsFeed) => void,
): () => void {
  const topic = options.topic ?? DEFAULT_TOPIC;
  const only = options.agentIdentity;
  const feed = new MetricsFeed({ maxAgents: options.maxAgents ?? 4 });
  let stopped = false;

  const receive = (payload: Uint8Array | string, sender: string) => {
    if (stopped || (only !== undefined && sender !== only)) return;
    try {
      if (feed.receive(payload, sender)) onChange(feed);
    } catch {
      // A rendering bug must not break the app's other DataReceived listeners.
    }
  };

  const onData: DataReceivedListener = (payload, participant, _kind, dataTopic) => {
    if (dataTopic === topic) receive(payload, participant?.identity ?? '');
  };

  const askForSummary = (participant: MetricsParticipant | undefined) => {
    const identity = participant?.identity;
    const rpc = room.localParticipant;
    if (stopped || typeof identity !== 'string' || typeof rpc?.performRpc !== 'function') return;
    if (participant?.isAgent === false || (only !== undefined && identity !== only)) return;
    try {
      rpc
        .performRpc({ destinationIdentity: identity, method: summaryRpcMethod(topic), payload: '' })
        .then(
          (answer) => {
            if (typeof answer === 'string') receive(answer, identity);
          },
          // Not every participant publishes metrics: an unregistered method or a timeout is normal.
          () => {},
        );
    } catch {
      // performRpc threw synchronously (e.g. not connected yet); the next broadcast will do.
    }
  };
  const askEveryone = () => {
    for (const participant of room.remoteParticipants?.values() ?? []) askForSummary(participant);
  };

  room.on('dataReceived', onData);
  room.on('participantConnected', askForSummary);
  // Participants already in the room at connection raise no participantConnected.
  room.on('connected', askEveryone);
  askEveryone();

  return () => {
    if (stopped) return;
    stopped = true;
    room.off('dataReceived', onData);
    room.off('participantConnected', askForSummary);
    room.off('connected', askEveryone);
  };
}
