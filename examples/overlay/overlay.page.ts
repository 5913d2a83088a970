/**
 * The demo's overlay page. With a LiveKit server configured, it joins the demo's room with
 * livekit-client; otherwise it reads the demo's own packets from `/events` (see loopback-room.ts)
 * through a small stand-in for a Room. Either way `mountMetricsOverlay` does the rest.
 */
import { Room } from 'livekit-client';
import { type MetricsOverlayRoom, mountMetricsOverlay } from '../../src/overlay/index.js';

interface PageConfig {
  mode: 'local' | 'livekit';
  url?: string;
  token?: string;
  room: string;
}

type Listener = (...args: never[]) => void;

/** A Room look-alike over Server-Sent Events: emits `dataReceived` as livekit-client does. */
function eventStreamRoom(path: string): MetricsOverlayRoom {
  const listeners = new Map<string, Set<Listener>>();
  const source = new EventSource(path);
  source.onmessage = (event: MessageEvent<string>) => {
    const { topic, payload } = JSON.parse(event.data) as { topic: string; payload: string };
    const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
    for (const listener of listeners.get('dataReceived') ?? []) {
      (listener as (p: Uint8Array, who: { identity: string }, k: unknown, t: string) => void)(
        bytes,
        { identity: 'demo-agent' },
        undefined,
        topic,
      );
    }
  };
  const room = {
    on(event: string, listener: Listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(listener);
      return room;
    },
    off(event: string, listener: Listener) {
      listeners.get(event)?.delete(listener);
      return room;
    },
  };
  return room as MetricsOverlayRoom;
}

const status = document.getElementById('status')!;
const config = (await (await fetch('/config')).json()) as PageConfig;
const target = document.getElementById('overlay')!;
if (config.mode === 'livekit') {
  const room = new Room();
  mountMetricsOverlay(room, { target, title: `room ${config.room}` });
  await room.connect(config.url!, config.token!);
  status.textContent = `joined LiveKit room "${config.room}" at ${config.url}`;
} else {
  mountMetricsOverlay(eventStreamRoom('/events'), { target, title: 'demo agent' });
  status.textContent = 'fed by the demo session on this machine (no LiveKit server)';
}
