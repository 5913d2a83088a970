/**
 * The LiveKit server's API as the load test uses it: a first request that tells a wrong URL from
 * refused credentials, tokens for the callers, explicit agent dispatch, and the rooms' deletion.
 * `livekit-server-sdk` is an optional peer, loaded when a run starts.
 */
import { cpus } from 'node:os';
import type * as ServerSdk from 'livekit-server-sdk';

/** A run that cannot go on (the server unreachable, credentials refused, no agent): its message
 * says what to check. */
export class LoadTestError extends Error {
  override readonly name = 'LoadTestError';
}

type Sdk = typeof ServerSdk;

export async function loadSdk(): Promise<Sdk> {
  try {
    return await import('livekit-server-sdk');
  } catch (error) {
    throw new LoadTestError(
      `loadtest needs livekit-server-sdk and @livekit/rtc-node (installed with @livekit/agents): ${(error as Error).message}`,
    );
  }
}

/** Seconds a request to the server may take. */
const REQUEST_TIMEOUT_S = 10;

export class ServerApi {
  private readonly rooms: InstanceType<Sdk['RoomServiceClient']>;
  private readonly dispatches: InstanceType<Sdk['AgentDispatchClient']>;

  constructor(
    private readonly sdk: Sdk,
    readonly url: string,
    private readonly apiKey: string,
    private readonly apiSecret: string,
  ) {
    const http = url.replace(/^ws/i, 'http');
    const opts = { requestTimeout: REQUEST_TIMEOUT_S, failover: false };
    this.rooms = new sdk.RoomServiceClient(http, apiKey, apiSecret, opts);
    this.dispatches = new sdk.AgentDispatchClient(http, apiKey, apiSecret, opts);
  }

  /** One authenticated request, before any call starts: a wrong URL or refused credentials end
   * the run here with a message that says which. */
  async preflight(): Promise<void> {
    try {
      await this.rooms.listRooms(['loadtest-preflight']);
    } catch (error) {
      throw new LoadTestError(this.explain(error));
    }
  }

  /** What a failed request means, in words. */
  explain(error: unknown): string {
    const status = (error as { status?: unknown } | null)?.status;
    if (status === 401 || status === 403) {
      return `the LiveKit server at ${this.url} refused the API key and secret (HTTP ${status}): check LIVEKIT_API_KEY and LIVEKIT_API_SECRET`;
    }
    if (typeof status === 'number') {
      return `the LiveKit server at ${this.url} answered HTTP ${status}: ${(error as Error).message}`;
    }
    const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
    // fetch's own error says only "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND, …)
    const why =
      (typeof cause?.code === 'string' && cause.code) ||
      (typeof cause?.message === 'string' && cause.message) ||
      (error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    return `cannot reach a LiveKit server at ${this.url} (${why}): check the URL and that the server runs`;
  }

  async token(identity: string, room: string): Promise<string> {
    const token = new this.sdk.AccessToken(this.apiKey, this.apiSecret, {
      identity,
      name: 'loadtest caller',
      ttl: '6h',
    });
    token.addGrant({
      room,
      roomJoin: true,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
    });
    return token.toJwt();
  }

  async dispatch(room: string, agentName: string): Promise<void> {
    try {
      await this.dispatches.createDispatch(room, agentName);
    } catch (error) {
      throw new LoadTestError(
        `dispatch of agent "${agentName}" to room ${room} failed: ${this.explain(error)}`,
      );
    }
  }

  /** Deletes the rooms (each at most once; missing ones are fine). */
  async deleteRooms(names: Iterable<string>): Promise<number> {
    let failed = 0;
    await Promise.all(
      [...names].map((name) =>
        this.rooms.deleteRoom(name).catch((error: unknown) => {
          if ((error as { status?: unknown }).status !== 404) failed++;
        }),
      ),
    );
    return failed;
  }
}

/**
 * Why no agent joined, in words: nobody serves the name, or every worker that does reports
 * a load above the server's threshold. The server accepts the dispatch either way
 * (CreateDispatch returns OK) and then dispatches only to workers reporting load < 0.7 (the
 * framework's default threshold); @livekit/agents reports the whole machine's CPU as its load, so
 * a generator on the worker's machine can make it refuse every job without a word.
 */
export function noAgentMessage(
  agentName: string,
  timeoutMs: number,
  machineCpuPercent: number,
  anyAgentJoined: boolean,
): string {
  const cpu = `this machine's CPU was ${machineCpuPercent.toFixed(0)}% busy (${cpus().length} cores)`;
  const lead = `no agent joined within ${(timeoutMs / 1000).toFixed(0)} s of the dispatch (the server accepted it)`;
  if (!anyAgentJoined) {
    return `${lead}: no worker serves agent name "${agentName}", or every one that does reports a load above the server's threshold (0.7 by default; @livekit/agents reports the machine's CPU, and ${cpu}). Check --agent-name against the worker's agentName.`;
  }
  return `${lead}, though agents joined earlier calls: the worker is at capacity (no idle job process in time), or reports a load above the server's threshold (0.7 by default; @livekit/agents reports the machine's CPU, and ${cpu}; a generator on the worker's machine adds to it).`;
}
