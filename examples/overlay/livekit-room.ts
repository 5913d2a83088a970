/**
 * The demo's LiveKit mode (LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET set): the demo
 * agent joins a real room, with @livekit/rtc-node as a job would, so its metrics go over the
 * real data channel; the overlay page and `livekit-agents-metrics watch` join the same room.
 */
import { randomBytes } from 'node:crypto';

export interface LiveKitSettings {
  url: string;
  apiKey: string;
  apiSecret: string;
  room: string;
}

/** The settings from the environment, or undefined when LIVEKIT_URL is not set. */
export function liveKitFromEnv(room: string): LiveKitSettings | undefined {
  const url = process.env.LIVEKIT_URL;
  if (!url) return undefined;
  const apiKey = process.env.LIVEKIT_API_KEY;
  const apiSecret = process.env.LIVEKIT_API_SECRET;
  if (!apiKey || !apiSecret) {
    throw new Error('LIVEKIT_URL is set: set LIVEKIT_API_KEY and LIVEKIT_API_SECRET too');
  }
  return { url, apiKey, apiSecret, room };
}

export async function joinLiveKitRoom(settings: LiveKitSettings) {
  const [{ Room, dispose }, { AccessToken }] = await Promise.all([
    import('@livekit/rtc-node'),
    import('livekit-server-sdk'),
  ]);
  const token = (identity: string, grant: Record<string, boolean>) => {
    const t = new AccessToken(settings.apiKey, settings.apiSecret, { identity, ttl: '2h' });
    t.addGrant({ room: settings.room, roomJoin: true, canPublish: false, ...grant });
    return t.toJwt();
  };
  const room = new Room();
  await room.connect(
    settings.url,
    await token('demo-agent', { agent: true, canSubscribe: false, canPublishData: true }),
    { autoSubscribe: false, dynacast: false },
  );
  return {
    room,
    /** A token for one overlay viewer. */
    viewerToken: () =>
      token(`overlay-viewer-${randomBytes(3).toString('hex')}`, {
        canSubscribe: true,
        canPublishData: true,
      }),
    close: async () => {
      await room.disconnect();
      await dispose();
    },
  };
}
