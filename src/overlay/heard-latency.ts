/**
 * `measureHeardLatency(room)` in the browser (livekit-client): what the caller waits, from the last
 * voiced sample of its microphone to the first audible sample of the agent's track as played, plus
 * the output latency the browser reports. Both tracks feed one AudioWorklet of one AudioContext, so
 * both instants are sample positions on the context's clock (exact to the sample, ordered by
 * construction); only the report's absolute times are mapped onto `performance.now()`.
 *
 * Not included (no browser reports it for a MediaStream source): the microphone's input latency
 * before its samples reach WebAudio, typically 10–40 ms. See docs/HEARD-LATENCY.md.
 */
import {
  type HeardLatencyReport,
  type ClockSample,
  MAX_OUTPUT_LATENCY_MS,
  clockSample,
  encodeCallerMessage,
  estimateClockOffset,
  newMeterId,
  parseCallerMessage,
} from '../caller/heard-report.js';
import {
  type HeardTurn,
  HeardLatencyTracker,
  VOICE_ACTIVITY_DEFAULTS,
  type VoiceActivityOptions,
  WINDOW_MS,
} from '../caller/heard-latency-tracker.js';
import { MetricsConfigError } from '../errors.js';
import { DEFAULT_TOPIC } from '../wire/messages.js';

/** The parts of a livekit-client track the helper reads. */
export interface HeardLatencyTrack {
  readonly kind: string;
  readonly source?: string;
  readonly mediaStreamTrack: MediaStreamTrack;
}

/** The parts of a livekit-client Room the helper uses; a `Room` fits as it is. */
export interface HeardLatencyRoom {
  on(event: 'trackSubscribed', l: (t: HeardLatencyTrack, pub: unknown, p: Who) => void): unknown;
  on(event: 'localTrackPublished', l: (pub: { track?: HeardLatencyTrack }) => void): unknown;
  on(event: 'dataReceived', l: (d: Uint8Array, p?: Who, k?: unknown, t?: string) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  readonly localParticipant: {
    readonly trackPublications: ReadonlyMap<string, { track?: HeardLatencyTrack }>;
    publishData(
      data: Uint8Array,
      options: { reliable?: boolean; topic?: string; destinationIdentities?: string[] },
    ): Promise<void>;
  };
  readonly remoteParticipants: ReadonlyMap<
    string,
    Who & { trackPublications: ReadonlyMap<string, { track?: HeardLatencyTrack }> }
  >;
}

interface Who {
  readonly identity: string;
  readonly isAgent?: boolean;
}

/** Options of the browser {@link measureHeardLatency}; every field has a default. */
export interface BrowserHeardLatencyOptions extends VoiceActivityOptions {
  /** Data topic the agent's metrics use. Default `'agent-metrics'`. */
  topic?: string;
  /** The agent to measure. Default: the first participant with `isAgent` and an audio track. */
  agentIdentity?: string;
  /** Send each report to the agent. Default `true`. */
  send?: boolean;
  /** Clock exchange with the agent: interval in ms, `0` for none. Default `10000`. */
  clockSyncIntervalMs?: number;
  /** Add `AudioContext.outputLatency + baseLatency` (the device's playout). Default `true`. */
  includeOutputLatency?: boolean;
  /** The context to analyse in (it must be running). Default: a new one, closed by `stop()`. */
  audioContext?: AudioContext;
  /** Called with each report. */
  onReport?: (report: HeardLatencyReport) => void;
}

export interface BrowserHeardLatencyMeter {
  readonly reports: readonly HeardLatencyReport[];
  /** Stops measuring (and closes the context it created). Idempotent. */
  stop(): Promise<void>;
}

/** Per input: RMS per 10 ms window; voiced runs posted as [input, start, end, firstLoud,
 * lastLoud, voicedFrames] in context frames, when a run ends or reaches 20 windows. */
const WORKLET = `registerProcessor('lkam-heard',class extends AudioWorkletProcessor{constructor(o){super();const p=o.processorOptions;this.t=p.t;this.n=p.n;this.w=[0,1].map(()=>({s:0,k:0,f:-1,l:-1,at:-1,r:null}))}process(ins){const F=currentFrame,t=this.t,n=this.n;for(let i=0;i<2;i++){const c=ins[i]&&ins[i][0];if(!c)continue;const w=this.w[i],L=c.length;let s=w.s,k=w.k,f=w.f,l=w.l,j=0;while(j<L){if(k===0)w.at=F+j;const e=Math.min(L,j+n-k);k+=e-j;for(;j<e;j++){const v=c[j];s+=v*v;if(v>=t||v<=-t){if(f<0)f=F+j;l=F+j}}if(k===n){const on=Math.sqrt(s/k)>=t&&f>=0,r=w.r,fr=F+j;if(on){if(r){r[2]=fr;r[4]=l;r[5]+=k}else w.r=[i,w.at,fr,f,l,k]}if(w.r&&(!on||w.r[5]>=20*n)){this.port.postMessage(w.r);w.r=null}s=0;k=0;f=-1;l=-1}}w.s=s;w.k=k;w.f=f;w.l=l}return true}})`;

/**
 * Starts measuring heard latency in `room` (a livekit-client Room). Resolves once the worklet is
 * loaded. Reports go to the agent on the metrics topic (see heard-report.ts).
 *
 * @throws MetricsConfigError when `room` or an option is not usable.
 */
export async function measureHeardLatency(
  room: HeardLatencyRoom,
  options: BrowserHeardLatencyOptions = {},
): Promise<BrowserHeardLatencyMeter> {
  if (typeof room?.on !== 'function' || typeof room.off !== 'function') {
    throw new MetricsConfigError('room', 'expected a livekit-client Room');
  }
  if (typeof AudioWorkletNode === 'undefined') {
    throw new MetricsConfigError('audioContext', 'this browser has no AudioWorklet');
  }
  const threshold = options.threshold ?? VOICE_ACTIVITY_DEFAULTS.threshold;
  if (!(threshold > 0 && threshold <= 1)) {
    throw new MetricsConfigError('threshold', 'expected a number in (0, 1]');
  }
  const topic = options.topic ?? DEFAULT_TOPIC;
  const ctx = options.audioContext ?? new AudioContext();
  const url = URL.createObjectURL(new Blob([WORKLET], { type: 'text/javascript' }));
  try {
    await ctx.audioWorklet.addModule(url);
  } finally {
    URL.revokeObjectURL(url);
  }
  const rate = ctx.sampleRate;
  const node = new AudioWorkletNode(ctx, 'lkam-heard', {
    numberOfInputs: 2,
    numberOfOutputs: 1,
    processorOptions: { t: threshold, n: Math.round((rate * WINDOW_MS) / 1000) },
  });
  // a node is only processed while connected towards the destination; its output is silent
  node.connect(ctx.destination);

  const tracker = new HeardLatencyTracker(options);
  const reports: HeardLatencyReport[] = [];
  const sources = new Map<MediaStreamTrack, MediaStreamAudioSourceNode>();
  const timers: Array<ReturnType<typeof setTimeout>> = [];
  const samples: ClockSample[] = [];
  const pings = new Map<number, number>();
  const now = () => performance.timeOrigin + performance.now();
  let agent: string | undefined;
  let seq = 0;
  const meter = newMeterId();
  let pingId = 0;
  let stopped = false;

  /** Context frames → ms on the context's clock, and that clock → the caller's. */
  const ms = (frame: number) => (frame / rate) * 1000;
  const toCaller = (ctxMs: number) => {
    const ts = ctx.getOutputTimestamp();
    const perf = (ts.performanceTime ?? 0) + ctxMs - (ts.contextTime ?? 0) * 1000;
    return performance.timeOrigin + perf;
  };
  const round1 = (x: number) => Math.round(x * 10) / 10 || 0;

  const send = (payload: Uint8Array | undefined) => {
    if (!payload || !agent || options.send === false) return;
    room.localParticipant
      .publishData(payload, { reliable: true, topic, destinationIdentities: [agent] })
      .catch(() => {});
  };

  const report = (turn: HeardTurn) => {
    const out =
      options.includeOutputLatency === false
        ? 0
        : Math.min(
            MAX_OUTPUT_LATENCY_MS,
            ((ctx.outputLatency || 0) + (ctx.baseLatency || 0)) * 1000,
          );
    const callerSpeechEndAt = round1(toCaller(turn.callerSpeechEndAt));
    const agentAudioAt = round1(callerSpeechEndAt + turn.latencyMs);
    const r: HeardLatencyReport = {
      v: 1,
      type: 'heard_latency',
      seq: ++seq,
      meter,
      heardLatencyMs: round1(agentAudioAt - callerSpeechEndAt + round1(out)),
      callerSpeechEndAt,
      agentAudioAt,
    };
    if (out > 0) r.outputLatencyMs = round1(out);
    const clock = estimateClockOffset(samples);
    if (clock) {
      r.clockOffsetMs = round1(clock.offsetMs);
      r.clockRttMs = round1(clock.rttMs);
    }
    reports.push(r);
    if (reports.length > 1000) reports.shift();
    send(encodeCallerMessage(r));
    try {
      options.onReport?.(r);
    } catch {
      // the app's callback is its own business
    }
  };

  node.port.onmessage = (e: MessageEvent<number[]>) => {
    try {
      const [input, start, end, firstLoud, lastLoud, voiced] = e.data as [number, ...number[]];
      const span = {
        startAt: ms(start!),
        endAt: ms(end!),
        firstLoudAt: ms(firstLoud!),
        lastLoudAt: ms(lastLoud!),
        voicedMs: ms(voiced!),
      };
      if (input === 0) tracker.mic(span);
      else {
        const turn = tracker.agent(span);
        if (turn) report(turn);
      }
    } catch {
      // never throw into the page from the audio thread's messages
    }
  };

  const connect = (track: HeardLatencyTrack | undefined, input: 0 | 1) => {
    const mst = track?.mediaStreamTrack;
    if (stopped || track?.kind !== 'audio' || !mst || sources.has(mst)) return false;
    const source = ctx.createMediaStreamSource(new MediaStream([mst]));
    source.connect(node, 0, input);
    sources.set(mst, source);
    return true;
  };

  const ping = () => {
    const id = ++pingId;
    const sentAt = now();
    pings.set(id, sentAt);
    if (pings.size > 16) pings.delete(pings.keys().next().value!);
    send(encodeCallerMessage({ v: 1, type: 'clock_ping', id, sentAt }));
  };
  const startClock = () => {
    const every = options.clockSyncIntervalMs ?? 10_000;
    if (every <= 0) return;
    for (const d of [0, 300, 600]) timers.push(setTimeout(ping, d));
    timers.push(setInterval(ping, every));
  };

  const onRemote = (track: HeardLatencyTrack, _pub: unknown, p: Who) => {
    const wanted = options.agentIdentity;
    const isAgent = wanted !== undefined ? p.identity === wanted : p.isAgent === true;
    if (!isAgent || (agent !== undefined && p.identity !== agent)) return;
    if (!connect(track, 1) || agent !== undefined) return;
    agent = p.identity;
    startClock();
  };
  const onLocal = (pub: { track?: HeardLatencyTrack }) => {
    if (pub.track?.source === undefined || pub.track.source === 'microphone') connect(pub.track, 0);
  };
  const onData = (payload: Uint8Array, p?: Who, _kind?: unknown, t?: string) => {
    if (t !== topic || p?.identity !== agent) return;
    const receivedAt = now();
    const pong = parseCallerMessage(payload);
    if (pong?.type !== 'clock_pong' || pings.get(pong.id) !== pong.pingSentAt) return;
    pings.delete(pong.id);
    samples.push(clockSample(pong, receivedAt));
    if (samples.length > 16) samples.shift();
  };

  room.on('trackSubscribed', onRemote);
  room.on('localTrackPublished', onLocal);
  room.on('dataReceived', onData);
  for (const pub of room.localParticipant.trackPublications.values()) onLocal(pub);
  for (const p of room.remoteParticipants.values()) {
    for (const pub of p.trackPublications.values()) if (pub.track) onRemote(pub.track, pub, p);
  }

  return {
    reports,
    async stop() {
      if (stopped) return;
      stopped = true;
      room.off('trackSubscribed', onRemote as never);
      room.off('localTrackPublished', onLocal as never);
      room.off('dataReceived', onData as never);
      for (const t of timers) clearTimeout(t);
      for (const s of sources.values()) s.disconnect();
      node.port.onmessage = null;
      node.disconnect();
      if (!options.audioContext) await ctx.close().catch(() => {});
    },
  };
}
