/**
 * The real audio the audio-path benchmarks use: the recorded utterances of examples/assets
 * (16 kHz mono speech), as a caller's microphone delivers them (10 ms frames, a pause between
 * utterances) and as an agent's TTS hands them to its output (24 kHz, one segment per utterance).
 */
import { AudioFrame } from '@livekit/rtc-node';
import { loadSpeechWav } from '../test/support/speech.js';

export const INPUT_RATE = 16_000;
export const OUTPUT_RATE = 24_000;
export const FRAME_MS = 10;
/** Silence between two utterances of the caller: long enough for any end-of-speech detector. */
export const PAUSE_MS = 800;

const ASSETS = [1, 2, 3, 4, 5].map(
  (i) => new URL(`../examples/assets/utterance-${i}.wav`, import.meta.url).pathname,
);

/** The five utterances, 16 kHz mono int16. */
export async function utterances(): Promise<Int16Array[]> {
  return Promise.all(ASSETS.map(async (path) => (await loadSpeechWav(path)).pcm));
}

/** The utterances one after another with {@link PAUSE_MS} of silence after each (16 kHz). */
export function conversation(clips: Int16Array[]): Int16Array {
  const pause = (INPUT_RATE * PAUSE_MS) / 1000;
  const out = new Int16Array(clips.reduce((n, c) => n + c.length + pause, 0));
  let at = 0;
  for (const clip of clips) {
    out.set(clip, at);
    at += clip.length + pause;
  }
  return out;
}

/** `pcm` cut into frames of {@link FRAME_MS} (the last partial frame left out). */
export function frames(pcm: Int16Array, rate: number): AudioFrame[] {
  const n = (rate * FRAME_MS) / 1000;
  const out: AudioFrame[] = [];
  for (let at = 0; at + n <= pcm.length; at += n) {
    out.push(new AudioFrame(pcm.slice(at, at + n), rate, 1, n));
  }
  return out;
}

/** Linear resampling, enough for a benchmark's input (a TTS voice at 24 kHz). */
export function resample(pcm: Int16Array, from: number, to: number): Int16Array {
  const out = new Int16Array(Math.round((pcm.length * to) / from));
  const ratio = from / to;
  for (let i = 0; i < out.length; i++) {
    const pos = i * ratio;
    const i0 = Math.floor(pos);
    const a = pcm[i0] ?? 0;
    const b = pcm[i0 + 1] ?? a;
    out[i] = Math.round(a + (b - a) * (pos - i0));
  }
  return out;
}
