import { inference, initializeLogger, VADEventType } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { readFileSync } from 'node:fs';
initializeLogger({ pretty: false, level: 'debug' });
const buf = readFileSync('/tmp/t16.wav');
const pcm = new Int16Array(buf.buffer.slice(buf.byteOffset + 44, buf.byteOffset + buf.length));
const vad = new inference.VAD();
const stream = vad.stream();
const t0 = Date.now();
(async () => {
  for await (const ev of stream) {
    if (ev.type !== VADEventType.INFERENCE_DONE) console.log(Date.now() - t0, VADEventType[ev.type], ev.speechDuration, ev.silenceDuration, ev.inferenceDuration);
  }
})();
const all = new Int16Array(pcm.length + 16000);
all.set(pcm);
for (let i = 0; i < all.length; i += 160) {
  stream.pushFrame(new AudioFrame(all.slice(i, i + 160), 16000, 1, 160));
}

await new Promise((r) => setTimeout(r, 2000));
// find last non-silent sample
let last = 0; for (let i = 0; i < pcm.length; i++) if (Math.abs(pcm[i]!) > 300) last = i;
let first = -1; for (let i = 0; i < pcm.length; i++) if (Math.abs(pcm[i]!) > 300) { first = i; break; }
console.log('first', first / 16, 'last', last / 16, 'len', pcm.length / 16);
process.exit(0);
