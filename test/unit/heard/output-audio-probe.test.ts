import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputAudioProbe, firstAudibleSample } from '../../../src/heard/output-audio-probe.js';
import { Guard } from '../../../src/util/guard.js';

// the framework's AudioOutput logs through its logger
initializeLogger({ pretty: false, level: 'warn' });

const RATE = 48_000;
const FRAME_MS = 20;

/** A frame of FRAME_MS: silent, or a tone at `amplitude` of full scale from sample `from`. */
function frame(amplitude = 0, from = 0): AudioFrame {
  const n = (RATE * FRAME_MS) / 1000;
  const data = new Int16Array(n);
  for (let i = from; i < n; i++) data[i] = Math.round(Math.sin(i / 5) * amplitude * 32767);
  return new AudioFrame(data, RATE, 1, n);
}

/** A sink that accepts every frame at once, as the framework's outputs are written. */
class Sink extends voice.AudioOutput {
  readonly got: AudioFrame[] = [];
  constructor(next?: voice.AudioOutput) {
    super(RATE, next);
  }
  override async captureFrame(f: AudioFrame): Promise<void> {
    await super.captureFrame(f);
    this.got.push(f);
  }
  override clearBuffer(): void {
    this.onPlaybackFinished({ playbackPosition: 0, interrupted: true });
  }
  finish(): void {
    this.onPlaybackFinished({ playbackPosition: 0, interrupted: false });
  }
}

/** The part of a session the probe uses: `output.audio` as an accessor, as AgentOutput has. */
class Output {
  #audio: voice.AudioOutput | null = null;
  get audio() {
    return this.#audio;
  }
  set audio(a: voice.AudioOutput | null) {
    this.#audio = a;
  }
}

function setup(opts: { audio?: voice.AudioOutput } = {}) {
  let clock = 1_000_000;
  const output = new Output();
  if (opts.audio) output.audio = opts.audio;
  const reports: Array<{ startedAt: number; audibleAt: number }> = [];
  const errors: unknown[] = [];
  const disabled: Record<string, string> = {};
  const guard = new Guard({ warn: () => {} });
  guard.reportTo((failure) => errors.push(failure));
  const probe = new OutputAudioProbe(
    { output },
    {
      now: () => clock,
      audible: (startedAt, audibleAt) => reports.push({ startedAt, audibleAt }),
      framework: { guard, featureDisabled: (feature, why) => (disabled[feature] = why) },
    },
  );
  const flushed = () => new Promise((r) => setImmediate(r));
  return {
    output,
    probe,
    reports,
    errors,
    disabled,
    flushed,
    tick: (ms: number) => (clock += ms),
    now: () => clock,
  };
}

describe('OutputAudioProbe', () => {
  it('dates the first audible sample by the audio queued ahead of it (leading silence)', async () => {
    const sink = new Sink();
    const s = setup({ audio: sink });
    const t0 = s.now();
    // pushed faster than real time: 3 silent frames, then a frame loud from its 240th sample
    await sink.captureFrame(frame());
    await sink.captureFrame(frame());
    s.tick(5);
    await sink.captureFrame(frame());
    await sink.captureFrame(frame(0.2, 240));
    await s.flushed();
    assert.equal(s.reports.length, 1);
    assert.equal(s.reports[0]!.startedAt, t0);
    // 3 × 20 ms queued ahead, then 240 samples = 5 ms into the frame
    assert.equal(s.reports[0]!.audibleAt - t0, 65);
    assert.equal(sink.got.length, 4, 'every frame reached the sink');
  });

  it('reads the queue of an rtc-node AudioSource when the sink has one', async () => {
    const sink = new Sink();
    // what ParticipantAudioOutput holds: the source's own account of the queue, this frame included
    Object.assign(sink, { audioSource: { queuedDuration: 180 } });
    const s = setup({ audio: sink });
    await sink.captureFrame(frame(0.2));
    await s.flushed();
    // the frame starts after the 160 ms ahead of it; its first loud sample is its second
    assert.ok(Math.abs(s.reports[0]!.audibleAt - s.now() - 160 - 1000 / RATE) < 1e-6);
  });

  it('reports once per segment, again after the sink finished one, and never for silence', async () => {
    const sink = new Sink();
    const s = setup({ audio: sink });
    await sink.captureFrame(frame(0.2));
    await sink.captureFrame(frame(0.2));
    await s.flushed();
    assert.equal(s.reports.length, 1);
    sink.finish();
    s.tick(1_000);
    await sink.captureFrame(frame(0.001)); // below −40 dBFS
    await s.flushed();
    assert.equal(s.reports.length, 1, 'inaudible audio is not reported');
    await sink.captureFrame(frame(0.2));
    await s.flushed();
    assert.equal(s.reports.length, 2);
    assert.equal(s.reports[1]!.startedAt, s.now(), 'the segment began at its first frame');
  });

  it('starts a new segment after a second without audio, if the sink never said one ended', async () => {
    const sink = new Sink();
    const s = setup({ audio: sink });
    await sink.captureFrame(frame()); // a segment of silence only, never finished
    s.tick(1_500);
    const t1 = s.now();
    await sink.captureFrame(frame(0.2));
    await s.flushed();
    assert.deepEqual(s.reports, [{ startedAt: t1, audibleAt: t1 + 1000 / RATE }]);
  });

  it('follows a chain to its sink, for outputs assigned later too, and lets go on close', async () => {
    const sink = new Sink();
    const head = new Sink(sink);
    const s = setup();
    s.output.audio = head; // e.g. RoomIO assigning its output inside session.start()
    assert.ok(Object.hasOwn(sink, 'captureFrame'), 'the sink is read');
    assert.ok(!Object.hasOwn(head, 'captureFrame'), 'the head is left alone');
    await sink.captureFrame(frame(0.2));
    await s.flushed();
    assert.equal(s.reports.length, 1);
    s.probe.close();
    assert.ok(!Object.hasOwn(sink, 'captureFrame'), 'the sink has its own method back');
    assert.equal(s.output.audio, head, 'the accessor works as before');
    sink.finish();
    await sink.captureFrame(frame(0.2));
    await s.flushed();
    assert.equal(s.reports.length, 1, 'nothing is read after close');
  });

  it('leaves a wrapper put over its own in place on close, and stops reading', async () => {
    const sink = new Sink();
    const s = setup({ audio: sink });
    const ours = sink.captureFrame;
    let theirs = 0;
    sink.captureFrame = (f: AudioFrame) => {
      theirs++;
      return ours.call(sink, f);
    };
    const wrapper = sink.captureFrame;
    s.probe.close();
    assert.equal(sink.captureFrame, wrapper, 'the later wrapper stays');
    await sink.captureFrame(frame(0.2));
    await s.flushed();
    assert.deepEqual([theirs, sink.got.length, s.reports.length], [1, 1, 0]);
  });

  it('passes the sink’s own failure through and contains its own', async () => {
    const sink = new Sink();
    const s = setup({ audio: sink });
    // a malformed frame is silence to the probe; the sink still gets it
    const odd = { data: 'x', sampleRate: NaN, channels: 0, samplesPerChannel: -1 };
    await sink.captureFrame(odd as unknown as AudioFrame);
    await s.flushed();
    assert.equal(s.reports.length, 0);
    assert.equal(sink.got.length, 1);
    const broken = new Sink();
    broken.captureFrame = async () => {
      throw new Error('device gone');
    };
    const s2 = setup({ audio: broken });
    await assert.rejects(broken.captureFrame(frame(0.2)), /device gone/);
    await s2.flushed();
    assert.deepEqual(s2.errors, []);
  });

  it('finds the first audible sample of the first voiced 10 ms window', () => {
    assert.equal(firstAudibleSample(frame(), 0.01), -1);
    assert.equal(firstAudibleSample(frame(0.2, 600), 0.01), 600);
    assert.equal(firstAudibleSample(frame(0.2), 0.01), 1, 'sample 0 of the sine is 0');
  });
});
