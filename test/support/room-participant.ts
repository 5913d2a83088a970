/**
 * A caller in a real LiveKit room (`@livekit/rtc-node`): it speaks into a published microphone
 * track in real time, listens to the agent's audio track, and keeps every data packet it gets on
 * the metrics topic. All times are epoch ms on this machine's clock, which the agent's processes
 * share.
 */
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  ParticipantKind,
  type RemoteParticipant,
  type RemoteTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { decodeMessage } from '../../src/wire/decode.js';
import { DEFAULT_TOPIC, type MetricsMessage } from '../../src/wire/messages.js';
import type { LiveKitServer } from './livekit-server.js';
import { DEFAULT_SILENCE_THRESHOLD, SPEECH_SAMPLE_RATE, type Speech, pcmBounds } from './speech.js';

/** Wall-clock ground truth of one clip sent into the room. */
export interface SentClip {
  startedAt: number;
  /** When the first voiced sample went out. */
  speechStartedAt?: number;
  /** When the last voiced sample went out ("the caller stopped speaking"). */
  speechEndedAt?: number;
  durationMs: number;
}

export interface ReceivedPacket {
  receivedAt: number;
  from?: string;
  bytes: number;
  /** The decoded message, or null when the packet is not a valid one. */
  message: MetricsMessage | null;
}

interface QueuedClip {
  pcm: Int16Array;
  offset: number;
  firstIndex: number;
  lastIndex: number;
  sent: SentClip;
  resolve: (clip: SentClip) => void;
}

const FRAME_MS = 10;

/**
 * A microphone on a paced clock: frame k goes out once its last sample would have been captured
 * (start + (k + 1) * 10 ms), from the queued clips, or silence between them, as a real one keeps
 * sending while nobody speaks.
 */
class Microphone {
  // no queue (queueSize 0: rtc-node hands each frame straight to the encoder): a frame goes out
  // when the clock pushes it. A queued source is drained by a 10 ms timer that never catches up,
  // so each late tick would leave the queue fuller for the rest of the call (up to its size),
  // and the caller's audio would leave later than the clip's records say
  readonly source = new AudioSource(SPEECH_SAMPLE_RATE, 1, 0);
  /** What sends a frame: the source's own captureFrame, or a helper that taps it on the way. */
  capture = (source: AudioSource, frame: AudioFrame): Promise<void> => source.captureFrame(frame);
  private readonly queue: QueuedClip[] = [];
  private readonly samplesPerFrame = (SPEECH_SAMPLE_RATE * FRAME_MS) / 1000;
  private closed = false;
  private loop?: Promise<void>;

  start(): void {
    this.loop ??= this.run();
  }

  play(pcm: Int16Array): Promise<SentClip> {
    const { firstIndex, lastIndex } = pcmBounds(pcm, DEFAULT_SILENCE_THRESHOLD);
    return new Promise((resolve) => {
      const sent: SentClip = { startedAt: 0, durationMs: (pcm.length / SPEECH_SAMPLE_RATE) * 1000 };
      this.queue.push({ pcm, offset: 0, firstIndex, lastIndex, sent, resolve });
      this.start();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
    await this.source.close();
  }

  private async run(): Promise<void> {
    const start = performance.now();
    for (let k = 0; !this.closed; k++) {
      const wait = start + (k + 1) * FRAME_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.closed) break;
      await this.capture(this.source, this.nextFrame(Date.now()));
    }
  }

  private nextFrame(now: number): AudioFrame {
    const n = this.samplesPerFrame;
    const data = new Int16Array(n);
    const msPerSample = 1000 / SPEECH_SAMPLE_RATE;
    let filled = 0;
    while (filled < n && this.queue.length > 0) {
      const clip = this.queue[0]!;
      const take = Math.min(n - filled, clip.pcm.length - clip.offset);
      data.set(clip.pcm.subarray(clip.offset, clip.offset + take), filled);
      // a sample at frame position p was captured (n - 1 - p) samples before the frame went out
      const at = (index: number) => now - (n - 1 - (filled + index - clip.offset)) * msPerSample;
      if (clip.offset === 0) clip.sent.startedAt = at(0);
      const end = clip.offset + take;
      if (clip.firstIndex >= clip.offset && clip.firstIndex < end) {
        clip.sent.speechStartedAt = at(clip.firstIndex);
      }
      if (clip.lastIndex >= clip.offset && clip.lastIndex < end) {
        clip.sent.speechEndedAt = at(clip.lastIndex);
      }
      clip.offset = end;
      filled += take;
      if (clip.offset >= clip.pcm.length) {
        this.queue.shift();
        clip.resolve(clip.sent);
      }
    }
    return new AudioFrame(data, SPEECH_SAMPLE_RATE, 1, n);
  }
}

export class RoomParticipant {
  readonly packets: ReceivedPacket[] = [];
  /** Arrival times of the agent's audible frames (peak above the silence threshold). */
  readonly agentVoicedAt: number[] = [];
  /** Every agent frame as read: when (Date.now), its length in samples, and its peak. */
  readonly agentFrameLog: Array<{ at: number; samples: number; peak: number }> = [];
  agentFrames = 0;
  agentJoinedAt?: number;
  agentTrackAt?: number;
  private readonly mic = new Microphone();
  private readonly streams: AudioStream[] = [];

  private constructor(
    readonly room: Room,
    readonly identity: string,
    private readonly topic: string,
  ) {}

  /** Joins `roomName` (created by the join) with a token allowing publish, subscribe and data. */
  static async join(
    server: LiveKitServer,
    roomName: string,
    identity: string,
    topic = DEFAULT_TOPIC,
  ): Promise<RoomParticipant> {
    const token = new AccessToken(server.apiKey, server.apiSecret, { identity, ttl: '10m' });
    token.addGrant({
      roomJoin: true,
      room: roomName,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
    });
    const room = new Room();
    const participant = new RoomParticipant(room, identity, topic);
    room
      .on(RoomEvent.ParticipantConnected, (p) => participant.onParticipant(p))
      .on(RoomEvent.TrackSubscribed, (track, _pub, p) => participant.onTrack(track, p))
      .on(RoomEvent.DataReceived, (payload, p, _kind, topic) => {
        if (topic !== participant.topic) return;
        participant.packets.push({
          receivedAt: Date.now(),
          from: p?.identity,
          bytes: payload.byteLength,
          message: decodeMessage(payload),
        });
      });
    await room.connect(server.url, await token.toJwt(), { autoSubscribe: true, dynacast: false });
    for (const p of room.remoteParticipants.values()) participant.onParticipant(p);
    return participant;
  }

  /** Publishes the microphone track and starts its clock (silence until something is said). */
  async publishMicrophone(): Promise<void> {
    const track = LocalAudioTrack.createAudioTrack('microphone', this.mic.source);
    await this.room.localParticipant!.publishTrack(
      track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
    );
    this.mic.start();
  }

  /** Sends every microphone frame through `capture` (e.g. a heard-latency meter's captureFrame). */
  useCapture(capture: (source: AudioSource, frame: AudioFrame) => Promise<void>): void {
    this.mic.capture = capture;
  }

  /** Sends the speech in real time; resolves when its last sample has gone out. */
  say(speech: Speech): Promise<SentClip> {
    return this.mic.play(speech.pcm);
  }

  silence(ms: number): Promise<SentClip> {
    return this.mic.play(new Int16Array(Math.round((ms * SPEECH_SAMPLE_RATE) / 1000)));
  }

  agent(): RemoteParticipant | undefined {
    return [...this.room.remoteParticipants.values()].find((p) => p.kind === ParticipantKind.AGENT);
  }

  /** Messages decoded from the packets, in arrival order (invalid packets left out). */
  messages(): MetricsMessage[] {
    return this.packets.flatMap((p) => (p.message ? [p.message] : []));
  }

  /** First audible agent frame that arrived after `at`. */
  agentAudioAfter(at: number): number | undefined {
    return this.agentVoicedAt.find((t) => t > at);
  }

  async waitFor<V>(find: () => V | undefined, timeoutMs: number, what: string): Promise<V> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Resolves once no audible agent frame has arrived for `quietMs`. */
  async agentQuiet(quietMs: number, timeoutMs: number): Promise<void> {
    await this.waitFor(
      () => (Date.now() - (this.agentVoicedAt.at(-1) ?? 0) >= quietMs ? true : undefined),
      timeoutMs,
      `the agent silent for ${quietMs} ms`,
    );
  }

  async leave(): Promise<void> {
    await this.mic.close();
    for (const s of this.streams) await s.cancel().catch(() => {});
    await this.room.disconnect();
  }

  private onParticipant(p: RemoteParticipant): void {
    if (p.kind === ParticipantKind.AGENT) this.agentJoinedAt ??= Date.now();
  }

  private onTrack(track: RemoteTrack, p: RemoteParticipant): void {
    if (p.kind !== ParticipantKind.AGENT || track.kind !== TrackKind.KIND_AUDIO) return;
    this.agentTrackAt ??= Date.now();
    const stream = new AudioStream(track, { sampleRate: SPEECH_SAMPLE_RATE, numChannels: 1 });
    this.streams.push(stream);
    void (async () => {
      try {
        for await (const frame of stream) {
          this.agentFrames++;
          let peak = 0;
          for (const v of frame.data) peak = Math.max(peak, v < 0 ? -v : v);
          const at = Date.now();
          this.agentFrameLog.push({ at, samples: frame.samplesPerChannel, peak });
          if (peak > DEFAULT_SILENCE_THRESHOLD) this.agentVoicedAt.push(at);
        }
      } catch {
        // the stream ends with the room
      }
    })();
  }
}
