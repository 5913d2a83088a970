/**
 * The utterances callers speak: WAV files read once, checked and bounded before any call starts.
 * A file that cannot be used is a MetricsConfigError naming it and saying why.
 */
import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  VOICE_ACTIVITY_DEFAULTS,
  WINDOW_MS,
  windowLevel,
} from '../caller/heard-latency-tracker.js';
import { MetricsConfigError } from '../errors.js';

/** One utterance, mono 16-bit PCM. */
export interface Utterance {
  name: string;
  sampleRate: number;
  samples: Int16Array;
  /** Index of the last sample the caller meter counts as voiced (its speech end), or -1. */
  lastVoiced: number;
  durationMs: number;
}

const MAX_FILE_BYTES = 32 * 1024 * 1024;
const MAX_DURATION_MS = 60_000;
const MIN_DURATION_MS = 200;
const RATES = [8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000];

/** Parses a WAV file's bytes (RIFF, PCM 16-bit, 1 or 2 channels: the second is mixed in). */
export function parseWav(bytes: Uint8Array, name: string, option = 'utterances'): Utterance {
  const fail = (why: string): never => {
    throw new MetricsConfigError(option, `${name}: ${why}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE')
    fail('not a WAV file (no RIFF/WAVE header)');
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let data: Uint8Array | undefined;
  // chunks: a 4-byte id, a 4-byte little-endian size, the body padded to an even length
  for (let at = 12, chunks = 0; at + 8 <= bytes.length && chunks < 64; chunks++) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) fail('its fmt chunk is cut short');
      fmt = {
        format: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      // a streamed WAV may say 0 or 0xFFFFFFFF: take what is there
      data = bytes.subarray(body, Math.min(bytes.length, body + (size || bytes.length)));
      break;
    }
    at = body + size + (size % 2);
  }
  if (!fmt) return fail('no fmt chunk');
  if (!data) return fail('no data chunk');
  // 1: PCM; 0xFFFE: WAVE_FORMAT_EXTENSIBLE, whose 16-bit form is PCM too
  if ((fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.bits !== 16) {
    fail(
      `expected 16-bit PCM, got format ${fmt.format} with ${fmt.bits} bits (convert it: sox in.wav -b 16 out.wav)`,
    );
  }
  if (fmt.channels !== 1 && fmt.channels !== 2)
    fail(`expected 1 or 2 channels, got ${fmt.channels}`);
  if (!RATES.includes(fmt.rate))
    fail(`sample rate ${fmt.rate} Hz is not one of ${RATES.join(', ')}`);
  const frames = Math.floor(data.length / (2 * fmt.channels));
  const durationMs = (frames / fmt.rate) * 1000;
  if (durationMs < MIN_DURATION_MS || durationMs > MAX_DURATION_MS) {
    fail(
      `lasts ${(durationMs / 1000).toFixed(2)} s; an utterance must last ${MIN_DURATION_MS / 1000}–${MAX_DURATION_MS / 1000} s`,
    );
  }
  const pcm = new DataView(data.buffer, data.byteOffset, frames * 2 * fmt.channels);
  const samples = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    const left = pcm.getInt16(i * 2 * fmt.channels, true);
    samples[i] = fmt.channels === 1 ? left : (left + pcm.getInt16(i * 4 + 2, true)) >> 1;
  }
  const lastVoiced = lastVoicedSample(samples, fmt.rate);
  if (lastVoiced < 0)
    fail('is silent to the caller meter (no 10 ms window at −40 dBFS RMS or above)');
  return { name, sampleRate: fmt.rate, samples, lastVoiced, durationMs };
}

/** The meter's speech end within the clip: the last loud sample of its last voiced window. */
function lastVoicedSample(samples: Int16Array, rate: number): number {
  const per = Math.round((rate * WINDOW_MS) / 1000);
  const threshold = VOICE_ACTIVITY_DEFAULTS.threshold;
  for (let start = Math.floor((samples.length - 1) / per) * per; start >= 0; start -= per) {
    const level = windowLevel(
      samples,
      start,
      Math.min(samples.length, start + per),
      1 / 32768,
      threshold,
    );
    if (level.rms >= threshold && level.lastLoud >= 0) return start + level.lastLoud;
  }
  return -1;
}

/** Reads the utterances (the bundled ones when `paths` is undefined); one sample rate for all. */
export async function loadUtterances(paths: readonly string[] | undefined): Promise<Utterance[]> {
  const files = paths ?? bundledUtterances();
  const out: Utterance[] = [];
  for (const [i, path] of files.entries()) {
    const option = paths ? `utterances[${i}]` : 'utterances (bundled)';
    out.push(parseWav(await readBounded(path, option), path, option));
  }
  const rate = out[0]?.sampleRate;
  const other = out.find((u) => u.sampleRate !== rate);
  if (other) {
    throw new MetricsConfigError(
      'utterances',
      `${other.name} is at ${other.sampleRate} Hz and ${out[0]!.name} at ${rate} Hz: give files of one sample rate`,
    );
  }
  return out;
}

async function readBounded(path: string, option: string): Promise<Uint8Array> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new MetricsConfigError(option, `${path}: cannot be read (${code})`);
  }
  try {
    const { size } = await file.stat();
    if (size > MAX_FILE_BYTES)
      throw new MetricsConfigError(
        option,
        `${path}: ${size} bytes is over the ${MAX_FILE_BYTES / 1024 / 1024} MiB an utterance may have`,
      );
    const buffer = new Uint8Array(size);
    const { bytesRead } = await file.read(buffer, 0, size, 0);
    return buffer.subarray(0, bytesRead);
  } catch (error) {
    if (error instanceof MetricsConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new MetricsConfigError(option, `${path}: cannot be read (${code})`);
  } finally {
    await file.close().catch(() => {});
  }
}

/** examples/assets/utterance-*.wav of this package (published with it: package.json "files"). */
function bundledUtterances(): string[] {
  const dir = join(packageRoot(), 'examples', 'assets');
  return [1, 2, 3, 4, 5].map((n) => join(dir, `utterance-${n}.wav`));
}

/** The package's root: up from this module (src/loadtest/ in the repository, dist/ when built). */
function packageRoot(): string {
  // the CommonJS build has import.meta.url too (tsup's shims)
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      readFileSync(manifest, 'utf8').includes('"name": "livekit-agents-metrics"')
    )
      return dir;
    dir = dirname(dir);
  }
  throw new MetricsConfigError(
    'utterances',
    'the bundled utterances were not found; pass your own WAV files',
  );
}
