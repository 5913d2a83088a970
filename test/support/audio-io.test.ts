import { AudioFrame } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordingAudioOutput, ScriptedAudioInput } from './audio-io.js';
import { sleep } from './session-harness.js';

function frame(ms: number, sampleRate = 24000): AudioFrame {
  const n = (sampleRate * ms) / 1000;
  return new AudioFrame(new Int16Array(n).fill(1000), sampleRate, 1, n);
}

describe('RecordingAudioOutput', () => {
  it('plays a flushed segment in real time and reports it finished', async () => {
    const out = new RecordingAudioOutput({ bufferMs: 100 });
    const started: number[] = [];
    out.on('playbackStarted', (ev: { createdAt: number }) => started.push(ev.createdAt));
    const t0 = Date.now();
    for (let i = 0; i < 15; i++) await out.captureFrame(frame(20));
    // backpressure: 300 ms of audio with a 100 ms buffer cannot be accepted in under ~200 ms
    assert.ok(Date.now() - t0 >= 190, `captured too fast: ${Date.now() - t0} ms`);
    out.flush();
    const ev = await out.waitForPlayout();
    const seg = out.segments[0]!;
    assert.equal(ev.interrupted, false);
    assert.ok(Math.abs(ev.playbackPosition - 0.3) < 1e-9);
    assert.deepEqual(started, [seg.startedAt]);
    const playedFor = seg.finishedAt! - seg.startedAt;
    assert.ok(playedFor >= 298 && playedFor < 340, `played for ${playedFor} ms`);
  });

  it('clearBuffer interrupts at the heard position and later frames start a new segment', async () => {
    const out = new RecordingAudioOutput({ bufferMs: 1000 });
    for (let i = 0; i < 25; i++) await out.captureFrame(frame(20));
    await sleep(120);
    out.clearBuffer();
    out.flush();
    out.clearBuffer();
    const ev = await out.waitForPlayout();
    assert.equal(ev.interrupted, true);
    assert.ok(ev.playbackPosition > 0.1 && ev.playbackPosition < 0.16, `${ev.playbackPosition}`);
    assert.equal(out.segments[0]!.interrupted, true);

    await out.captureFrame(frame(20));
    out.flush();
    const second = await out.waitForPlayout();
    assert.equal(second.interrupted, false);
    assert.equal(out.segments.length, 2);
    assert.equal(out.capturedPlayoutSegments, 2);
  });
});

describe('ScriptedAudioInput', () => {
  it('delivers frames in real time and reports speech boundaries', async () => {
    const input = new ScriptedAudioInput({ frameMs: 10 });
    const reader = input.stream.getReader();
    let frames = 0;
    const reading = (async () => {
      for (;;) {
        const { done } = await reader.read();
        if (done) return;
        frames++;
      }
    })();
    const pcm = new Int16Array(3200);
    pcm.fill(5000, 800, 2400);
    const t0 = Date.now();
    const result = await input.playPcm(pcm);
    const elapsed = Date.now() - t0;
    await input.close();
    await reading;
    assert.ok(elapsed >= 190 && elapsed < 260, `200 ms clip took ${elapsed} ms`);
    assert.ok(frames >= 20, `${frames} frames`);
    const speechMs = result.speechEndedAt! - result.speechStartedAt!;
    assert.ok(Math.abs(speechMs - 100) < 15, `speech span ${speechMs} ms`);
    assert.ok(Math.abs(result.speechStartedAt! - result.startedAt - 50) < 15);
  });
});
