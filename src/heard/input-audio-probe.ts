/**
 * Watches the audio a session RECEIVES, whatever its input (the room's participant, a SIP
 * caller, a custom `AudioInput`), and reports each acoustic start and end of the user's speech: a
 * {@link VoiceEndDetector} reads every frame on its way to the session. How the frames are shown
 * to it without changing them, and given back on close, is the framework adapter's
 * (src/framework/input-audio.ts): it never stacks, and on a framework it does not know it turns
 * `acoustic_speech_end` off and leaves the input alone.
 */
import type { FrameworkContext } from '../framework/context.js';
import { InputAudioTap } from '../framework/input-audio.js';
import { type VoiceEndOptions, VoiceEndDetector } from './voice-end-detector.js';

export interface InputAudioProbeOptions extends VoiceEndOptions {
  now: () => number;
  /** The first voiced sample of an utterance arrived at `firstVoicedAt` (agent clock). */
  voiceStarted?: (firstVoicedAt: number) => void;
  /** The last voiced sample of an utterance arrived at `lastVoicedAt` (agent clock). */
  voiceEnded: (lastVoicedAt: number) => void;
  /** The guard, and where the feature turns itself off when the framework is not as verified. */
  framework: FrameworkContext;
}

export class InputAudioProbe {
  private readonly tap: InputAudioTap;
  private closed = false;

  constructor(session: unknown, opts: InputAudioProbeOptions) {
    const detector = new VoiceEndDetector(opts);
    const { framework } = opts;
    let failed = false;
    this.tap = new InputAudioTap(session, framework, (frame) => {
      if (this.closed || failed) return;
      try {
        const edges = detector.frame(frame, opts.now());
        if (edges?.startedAt !== undefined) opts.voiceStarted?.(edges.startedAt);
        if (edges?.endedAt !== undefined) opts.voiceEnded(edges.endedAt);
      } catch (error) {
        // the audio flows on; the measurement stops and says so
        failed = true;
        framework.guard.fail(
          { source: 'plugin', reason: 'threw', where: 'input_audio_probe' },
          error,
        );
        framework.guard.run('plugin', 'feature_disabled', () =>
          framework.featureDisabled('acoustic_speech_end', 'the end-of-speech detector threw'),
        );
      }
    });
  }

  /** Stops observing; the session reads its input directly again. Idempotent, never throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tap.close();
  }
}
