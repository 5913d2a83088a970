import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VoiceEndDetector } from '../../../src/heard/voice-end-detector.js';

const RATE = 16_000;

/** Feeds `pcm` in `frameMs` frames arriving in real time from t = 0; returns the starts and
 * ends reported. */
function edges(pcm: Int16Array, detector = new VoiceEndDetector(), channels = 1, frameMs = 10) {
  const n = (RATE * frameMs) / 1000;
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i * n * channels < pcm.length; i++) {
    const data = pcm.slice(i * n * channels, (i + 1) * n * channels);
    // a frame arrives when its last sample exists: sample k of the clip at k / 16 ms
    const found = detector.frame(
      { data, sampleRate: RATE, channels, samplesPerChannel: n },
      ((i + 1) * n - 1) / (RATE / 1000),
    );
    if (found?.startedAt !== undefined) starts.push(found.startedAt);
    if (found?.endedAt !== undefined) ends.push(found.endedAt);
  }
  return { starts, ends };
}

/** The ends reported for `pcm`. */
const run = (pcm: Int16Array, detector?: VoiceEndDetector, channels = 1) =>
  edges(pcm, detector, channels).ends;

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
const firstLoud = (pcm: Int16Array, limit = 0.01 * 32768) =>
  pcm.findIndex((v) => Math.abs(v) >= limit) / 16;

describe('VoiceEndDetector (the acoustic start and end of speech in received audio)', () => {
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

  it('places the start of an utterance on its first voiced sample, once it is long enough', () => {
    // a tone starting mid-frame (203 ms), so the start is not a frame boundary
    const pcm = concat(silence(203), tone(400), silence(500));
    for (const frameMs of [10, 20]) {
      const { starts, ends } = edges(pcm, undefined, 1, frameMs);
      assert.deepEqual(starts, [firstLoud(pcm)], `${frameMs} ms frames`);
      assert.deepEqual(ends, [lastLoud(pcm)], `${frameMs} ms frames`);
    }
  });

  it('starts no utterance at a click, nor again after a pause shorter than the hangover', () => {
    const click = tone(50);
    const pcm = concat(silence(100), click, silence(400), tone(300), silence(150), tone(200));
    const { starts } = edges(pcm);
    // the click (50 ms < 120 ms of speech) starts nothing; the utterance starts once, at its
    // first voiced sample, though its first stretch reports an end
    assert.deepEqual(starts, [firstLoud(pcm.subarray((RATE * 550) / 1000)) + 550]);
  });

  it('starts a new utterance after a pause of the hangover or more, and a click inside one belongs to it', () => {
    // a click 200 ms before speech (within the hangover) is the utterance's start: the energy
    // detector cannot tell them apart, and the caller did make a sound then
    const pcm = concat(silence(100), tone(30), silence(200), tone(300), silence(400), tone(300));
    const { starts } = edges(pcm);
    assert.deepEqual(starts, [
      firstLoud(pcm),
      firstLoud(pcm.subarray((RATE * 1030) / 1000)) + 1030,
    ]);
  });
});
