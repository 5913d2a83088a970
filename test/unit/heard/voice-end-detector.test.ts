import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VoiceEndDetector } from '../../../src/heard/voice-end-detector.js';

const RATE = 16_000;

/** Feeds `pcm` in 10 ms frames arriving in real time from t = 0; returns the ends reported. */
function run(pcm: Int16Array, detector = new VoiceEndDetector(), channels = 1) {
  const n = RATE / 100;
  const ends: number[] = [];
  for (let i = 0; i * n * channels < pcm.length; i++) {
    const data = pcm.slice(i * n * channels, (i + 1) * n * channels);
    // a frame arrives when its last sample exists: sample k of the clip at k / 16 ms
    const end = detector.frame(
      { data, sampleRate: RATE, channels, samplesPerChannel: n },
      ((i + 1) * n - 1) / (RATE / 1000),
    );
    if (end !== undefined) ends.push(end);
  }
  return ends;
}

/** `ms` of a 200 Hz tone at `amplitude`, or silence. */
const tone = (ms: number, amplitude = 8_000) =>
  Int16Array.from({ length: (RATE * ms) / 1000 }, (_, k) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * 200 * k) / RATE)),
  );
const silence = (ms: number) => new Int16Array((RATE * ms) / 1000);
const concat = (...parts: Int16Array[]) => {
  const out = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const lastLoud = (pcm: Int16Array, limit = 0.01 * 32768) => {
  for (let k = pcm.length - 1; k >= 0; k--) if (Math.abs(pcm[k]!) >= limit) return k / 16;
  return -1;
};

describe('VoiceEndDetector (the acoustic end of speech in received audio)', () => {
  it('places the end of an utterance on its last voiced sample', () => {
    const pcm = concat(silence(200), tone(400), silence(500));
    assert.deepEqual(run(pcm), [lastLoud(pcm)]);
  });

  it('keeps a pause shorter than the hangover inside the utterance, and ignores clicks', () => {
    const pcm = concat(silence(100), tone(300), silence(150), tone(200), silence(600), tone(50));
    const ends = run(pcm);
    // two voiced stretches of one utterance: each reports its end; the 50 ms click reports none
    assert.equal(ends.length, 2);
    assert.equal(ends.at(-1), lastLoud(pcm.subarray(0, (RATE * 750) / 1000)));
  });

  it('reads the first channel of interleaved stereo, and ignores malformed frames', () => {
    const mono = concat(silence(100), tone(300), silence(300));
    const stereo = new Int16Array(mono.length * 2);
    mono.forEach((v, k) => (stereo[2 * k] = v));
    assert.deepEqual(run(stereo, undefined, 2), [lastLoud(mono)]);
    const d = new VoiceEndDetector();
    const bad = { data: new Int16Array(10), sampleRate: RATE, channels: 1, samplesPerChannel: 160 };
    assert.equal(d.frame(bad, 0), undefined);
    assert.equal(d.frame({ ...bad, sampleRate: Number.NaN }, 0), undefined);
  });
});
