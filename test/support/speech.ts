import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const SPEECH_SAMPLE_RATE = 16000;

/**
 * Absolute int16 amplitude above which a sample counts as "speech" for ground-truth purposes.
 * espeak-ng renders digital silence between phrases, so any small threshold separates the two;
 * ~-40 dBFS keeps the decaying tail of the last phoneme inside the speech.
 */
export const DEFAULT_SILENCE_THRESHOLD = 300;

export interface Speech {
  text: string;
  pcm: Int16Array;
  sampleRate: 16000;
  durationMs: number;
  /** Where the cached 16 kHz mono 16-bit WAV lives. */
  wavPath: string;
}

export interface SpeakOptions {
  /** espeak-ng voice name. */
  voice?: string;
  /** espeak-ng speed in words per minute. */
  wordsPerMinute?: number;
  cacheDir?: string;
}

export interface PcmBounds {
  /** Index of the first sample above the threshold, or -1 when the buffer is silent. */
  firstIndex: number;
  /** Index of the last sample above the threshold, or -1 when the buffer is silent. */
  lastIndex: number;
}

export function speechCacheDir(): string {
  return path.join(os.tmpdir(), 'livekit-agents-metrics-speech');
}

/**
 * Synthesizes `text` with espeak-ng and resamples it with sox to 16 kHz mono s16 WAV. Results are
 * cached by content hash so a test run only pays for synthesis once per phrase.
 */
export async function speak(text: string, options: SpeakOptions = {}): Promise<Speech> {
  const voice = options.voice ?? 'en-us';
  const wordsPerMinute = options.wordsPerMinute ?? 175;
  const dir = options.cacheDir ?? speechCacheDir();
  const key = createHash('sha256')
    .update(JSON.stringify({ v: 1, text, voice, wordsPerMinute }))
    .digest('hex')
    .slice(0, 20);
  const wavPath = path.join(dir, `${key}.wav`);

  if (!(await exists(wavPath))) {
    await mkdir(dir, { recursive: true });
    // unique temp names plus an atomic rename keep concurrent test files from reading a
    // half-written cache entry
    const unique = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const rawPath = path.join(dir, `${key}.${unique}.raw.wav`);
    const tmpPath = path.join(dir, `${key}.${unique}.tmp.wav`);
    try {
      await run('espeak-ng', ['-v', voice, '-s', String(wordsPerMinute), '-w', rawPath, text]);
      await run('sox', [
        rawPath,
        '-r',
        String(SPEECH_SAMPLE_RATE),
        '-c',
        '1',
        '-b',
        '16',
        '-e',
        'signed-integer',
        tmpPath,
      ]);
      await rename(tmpPath, wavPath);
    } finally {
      await rm(rawPath, { force: true });
      await rm(tmpPath, { force: true });
    }
  }

  return loadSpeechWav(wavPath, text);
}

export async function loadSpeechWav(wavPath: string, text = ''): Promise<Speech> {
  const wav = parseWav(await readFile(wavPath));
  if (wav.sampleRate !== SPEECH_SAMPLE_RATE || wav.channels !== 1) {
    throw new Error(`${wavPath}: expected 16 kHz mono, got ${wav.sampleRate} Hz x${wav.channels}`);
  }
  return {
    text,
    pcm: wav.pcm,
    sampleRate: SPEECH_SAMPLE_RATE,
    durationMs: (wav.pcm.length / SPEECH_SAMPLE_RATE) * 1000,
    wavPath,
  };
}

export interface ParsedWav {
  sampleRate: number;
  channels: number;
  /** Interleaved when channels > 1. */
  pcm: Int16Array;
}

/** Minimal RIFF/WAVE reader for 16-bit PCM; walks chunks instead of assuming a 44-byte header. */
export function parseWav(buf: Buffer): ParsedWav {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let offset = 12;
  let sampleRate = 0;
  let channels = 0;
  let bitsPerSample = 0;
  let format = 0;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = buf.readUInt16LE(body);
      channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      bitsPerSample = buf.readUInt16LE(body + 14);
    } else if (id === 'data') {
      if (format !== 1 || bitsPerSample !== 16) {
        throw new Error(`unsupported WAV encoding: format ${format}, ${bitsPerSample} bits`);
      }
      // streamed WAVs may carry a placeholder size, so trust the buffer length instead
      const end = Math.min(buf.length, body + size);
      const bytes = (end - body) & ~1;
      const pcm = new Int16Array(bytes / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = buf.readInt16LE(body + i * 2);
      return { sampleRate, channels, pcm };
    }
    offset = body + size + (size & 1);
  }
  throw new Error('WAV has no data chunk');
}

export function pcmBounds(pcm: Int16Array, threshold = DEFAULT_SILENCE_THRESHOLD): PcmBounds {
  let firstIndex = -1;
  let lastIndex = -1;
  for (let i = 0; i < pcm.length; i++) {
    const v = pcm[i]!;
    if (v > threshold || v < -threshold) {
      if (firstIndex < 0) firstIndex = i;
      lastIndex = i;
    }
  }
  return { firstIndex, lastIndex };
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(cmd, args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new Error(`${cmd} not found: install it with 'apt-get install -y espeak-ng sox'`);
    }
    throw err;
  }
}
