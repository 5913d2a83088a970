/**
 * The contract of each reach into @livekit/agents internals (src/framework/reaches.ts): the
 * installed framework has the shape the adapter expects. A release that changes one fails here,
 * loudly, before a user's feature quietly turns itself off. Run against other framework versions
 * by `npm run test:framework -- <version>`.
 */
import { tokenize, tts, voice } from '@livekit/agents';
import { Room } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  REACHES,
  type ReachId,
  activityInput,
  chainSink,
  onSpeechItemAdded,
  ttsStreams,
} from '../../../src/framework/index.js';
import { interposeAccessor } from '../../../src/framework/io-accessor.js';
import { ObservedAudioInput } from '../../../src/framework/input-audio.js';
import { Guard } from '../../../src/util/guard.js';
import { ScriptedAudioInput, RecordingAudioOutput } from '../../support/audio-io.js';
import { FakeTTS } from '../../support/fake-tts.js';
import { ScriptedLLM } from '../../support/scripted-llm.js';
import { type VoiceHarness, startVoiceSession } from '../../support/session-harness.js';

/** A context that records what turned off (nothing should, on the verified framework). */
function context() {
  const disabled: Record<string, string> = {};
  const failures: unknown[] = [];
  const guard = new Guard({ warn: () => {} });
  guard.reportTo((f) => failures.push(f));
  return {
    ctx: { guard, featureDisabled: (f: string, why: string) => (disabled[f] = why) },
    disabled,
    failures,
  };
}

const checked = new Set<ReachId>();

describe('the @livekit/agents internals the plugin reaches into', () => {
  const harnesses: VoiceHarness[] = [];
  after(async () => {
    for (const h of harnesses) await h.close();
    // every reach of the adapter has its contract here
    assert.deepEqual([...checked].sort(), Object.keys(REACHES).sort());
  });

  it('input_audio_accessor: session.input.audio is a configurable getter and setter', () => {
    checked.add('input_audio_accessor');
    const session = new voice.AgentSession({});
    const accessor = interposeAccessor(session.input, 'audio', (v, set) => set(v));
    assert.equal(typeof accessor, 'object', String(accessor));
    if (typeof accessor === 'string') return;
    const input = new ScriptedAudioInput();
    session.input.audio = input;
    assert.equal(accessor.get(), input);
    accessor.restore();
    assert.equal(Object.hasOwn(session.input, 'audio'), false, 'the class accessor applies again');
    assert.equal(session.input.audio, input);
  });

  it('audio_input_multi_stream: an AudioInput subclass feeds its stream through multiStream', async () => {
    checked.add('audio_input_multi_stream');
    const source = new ScriptedAudioInput();
    const wrapped = new ObservedAudioInput(source, () => {});
    assert.ok(wrapped.stream, 'the wrapper has a stream');
    wrapped.release();
    await wrapped.close();
  });

  it('activity_input_stream: a started session reads its input through a MultiInputStream', async () => {
    checked.add('activity_input_stream');
    const before = new voice.AgentSession({});
    assert.equal(activityInput(before), 'none', 'no activity before start');
    const h = await startVoiceSession({ llm: new ScriptedLLM([]) });
    harnesses.push(h);
    const activity = activityInput(h.session);
    assert.equal(typeof activity, 'object', `the activity: ${String(activity)}`);
    if (typeof activity !== 'object') return;
    assert.equal(typeof activity.activity.audioStreamId, 'string');
    assert.equal((activity.multi as { inputCount?: unknown }).inputCount, 1);
    assert.equal(h.input.stream.locked, true, 'the activity reads the input');
  });

  it('output_audio_accessor: session.output.audio is a configurable getter and setter', () => {
    checked.add('output_audio_accessor');
    const session = new voice.AgentSession({});
    const accessor = interposeAccessor(session.output, 'audio', (v, set) => set(v));
    assert.equal(typeof accessor, 'object', String(accessor));
    if (typeof accessor === 'string') return;
    accessor.restore();
    assert.equal(Object.hasOwn(session.output, 'audio'), false);
  });

  it('audio_output_chain: an AudioOutput names the next in its chain in nextInChain', () => {
    checked.add('audio_output_chain');
    const sink = new RecordingAudioOutput();
    class Head extends voice.AudioOutput {
      override clearBuffer(): void {}
    }
    const head = new Head(sink.sampleRate, sink);
    assert.ok('nextInChain' in sink, 'the end of a chain has the field too');
    assert.equal(chainSink(head), sink);
    assert.equal(chainSink(sink), sink);
    sink.close();
  });

  it('audio_output_capture: an AudioOutput has captureFrame, clearBuffer and emits playbackFinished', () => {
    checked.add('audio_output_capture');
    const sink = new RecordingAudioOutput();
    assert.equal(typeof sink.captureFrame, 'function');
    assert.equal(typeof sink.clearBuffer, 'function');
    assert.equal(typeof sink.on, 'function');
    assert.equal(voice.AudioOutput.EVENT_PLAYBACK_FINISHED, 'playbackFinished');
    sink.close();
  });

  it('audio_output_source: the room output keeps an rtc-node AudioSource in audioSource', () => {
    checked.add('audio_output_source');
    const out = new voice.ParticipantAudioOutput(new Room(), {
      sampleRate: 24_000,
      numChannels: 1,
      trackPublishOptions: {} as never,
    });
    const source = (out as unknown as { audioSource?: { queuedDuration?: unknown } }).audioSource;
    assert.equal(typeof source?.queuedDuration, 'number');
  });

  it('speech_handle_item_added: a SpeechHandle takes an item-added callback', () => {
    checked.add('speech_handle_item_added');
    const { ctx, disabled, failures } = context();
    const handle = voice.SpeechHandle.create();
    assert.equal(
      onSpeechItemAdded(handle, ctx, () => {}),
      true,
    );
    assert.deepEqual([disabled, failures], [{}, []]);
  });

  it('tts_stream_adapter: the stream adapter labels itself tts.StreamAdapter<…>', () => {
    checked.add('tts_stream_adapter');
    const { ctx, disabled } = context();
    const streaming = new FakeTTS();
    const adapter = new tts.StreamAdapter(streaming, new tokenize.basic.SentenceTokenizer());
    assert.match(adapter.label, /^tts\.StreamAdapter</);
    assert.equal(ttsStreams({ tts: adapter }, ctx), false);
    assert.equal(ttsStreams({ tts: streaming }, ctx), true);
    assert.deepEqual(disabled, {});
  });
});
