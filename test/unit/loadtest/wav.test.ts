/**
 * The utterances: the bundled WAV files parse, and a file the callers cannot speak is refused
 * before any call starts, with a message that names it and says why; any bytes at all give an
 * utterance or that error.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MetricsConfigError } from '../../../src/errors.js';
import { loadUtterances, parseWav } from '../../../src/loadtest/wav.js';

/** A WAV file: PCM of `bits`, `channels` interleaved, from `samples` (per channel). */
function wav(
  samples: number[],
  { rate = 16_000, channels = 1, bits = 16, format = 1 } = {},
): Uint8Array {
  const data = samples.length * 2 * channels;
  const buf = Buffer.alloc(44 + data);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + data, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(format, 20);
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * channels * 2, 28);
  buf.writeUInt16LE(channels * 2, 32);
  buf.writeUInt16LE(bits, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(data, 40);
  samples.forEach((s, i) => {
    for (let c = 0; c < channels; c++) buf.writeInt16LE(s, 44 + (i * channels + c) * 2);
  });
  return new Uint8Array(buf);
}

/** 0.5 s of a 440 Hz tone then 0.3 s of silence, at 16 kHz. */
const tone = Array.from({ length: 12_800 }, (_, i) =>
  i < 8_000 ? Math.round(8_000 * Math.sin(i / 5.8)) : 0,
);

function refused(bytes: Uint8Array, why: RegExp): void {
  assert.throws(
    () => parseWav(bytes, 'x.wav'),
    (e: unknown) =>
      e instanceof MetricsConfigError && /x\.wav/.test(e.message) && why.test(e.message),
  );
}

describe('utterance WAV files', () => {
  it('parses the bundled utterances and finds where the caller meter hears their speech end', async () => {
    const utterances = await loadUtterances(undefined);
    assert.equal(utterances.length, 5);
    for (const u of utterances) {
      assert.equal(u.sampleRate, 16_000);
      assert.ok(u.durationMs > 1_000 && u.durationMs < 5_000, `${u.name}: ${u.durationMs}`);
      assert.ok(u.lastVoiced > 0 && u.lastVoiced < u.samples.length);
      assert.ok(Math.abs(u.samples[u.lastVoiced]!) >= 0.01 * 32768);
    }
  });

  it('mixes stereo to mono and places the speech end at the last loud sample', () => {
    const u = parseWav(wav(tone, { channels: 2 }), 'tone.wav');
    assert.equal(u.samples.length, tone.length);
    assert.ok(u.lastVoiced >= 7_990 && u.lastVoiced < 8_000, String(u.lastVoiced));
  });

  it('refuses what it cannot speak, saying why', () => {
    refused(new TextEncoder().encode('hello, not a wav'), /RIFF/);
    refused(wav(tone, { bits: 8 }), /16-bit PCM/);
    refused(wav(tone, { format: 3 }), /16-bit PCM/);
    refused(wav(tone, { channels: 3 }), /channels/);
    refused(wav(tone, { rate: 12_345 }), /sample rate/);
    refused(wav(tone.slice(0, 1_000)), /must last/);
    refused(wav(new Array(16_000).fill(0)), /silent/);
    refused(wav(tone).subarray(0, 30), /fmt/);
  });

  it('names an unreadable file and refuses files of two sample rates', async () => {
    await assert.rejects(
      loadUtterances(['/nonexistent/question.wav']),
      (e: unknown) =>
        e instanceof MetricsConfigError &&
        e.option === 'utterances[0]' &&
        /question\.wav: cannot be read \(ENOENT\)/.test(e.message),
    );
    const dir = mkdtempSync(join(tmpdir(), 'lkam-wav-'));
    try {
      const [a, b] = [join(dir, 'a.wav'), join(dir, 'b.wav')];
      writeFileSync(a, wav(tone));
      writeFileSync(b, wav(tone, { rate: 8_000 }));
      await assert.rejects(
        loadUtterances([a, b]),
        (e: unknown) => e instanceof MetricsConfigError && /8000 Hz/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives an utterance or a MetricsConfigError for any bytes', () => {
    const real = readFileSync(new URL('../../../examples/assets/utterance-2.wav', import.meta.url));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2_000 }),
        fc.nat(real.length),
        fc.boolean(),
        (noise, cut, splice) => {
          const bytes = splice
            ? new Uint8Array([...real.subarray(0, cut % 200), ...noise, ...real.subarray(cut)])
            : noise;
          try {
            const u = parseWav(bytes, 'fuzz.wav');
            assert.ok(u.samples.length > 0 && u.lastVoiced < u.samples.length);
          } catch (error) {
            assert.ok(error instanceof MetricsConfigError, String(error));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
