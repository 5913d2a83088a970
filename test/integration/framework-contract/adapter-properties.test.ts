/**
 * The adapter's shape checks hold whatever they are given: an arbitrary value as the session,
 * its input or output, the running activity, a speech handle or a TTS (including getters that
 * throw) never makes a reach throw. It either works or turns its feature off.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FRAMEWORK_FEATURES,
  InputAudioTap,
  OutputAudioTap,
  activityInput,
  chainSink,
  onSpeechItemAdded,
  ttsStreams,
} from '../../../src/framework/index.js';
import { Guard } from '../../../src/util/guard.js';

const RUNS = 300;

/** Any value, or an object whose chosen keys hold any value or a getter that throws. */
const shaped = (keys: string[]) =>
  fc.oneof(
    fc.anything(),
    fc
      .dictionary(
        fc.constantFrom(...keys),
        fc.oneof(fc.anything(), fc.constant(THROWS), fc.func(fc.anything())),
      )
      .map(withThrowingGetters),
  );

const THROWS = Symbol('throws');

function withThrowingGetters(d: Record<string, unknown>): object {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (v === THROWS) {
      Object.defineProperty(o, k, {
        enumerable: true,
        get() {
          throw new Error(`getter ${k}`);
        },
      });
    } else o[k] = v;
  }
  return o;
}

const sessionLike = fc.record(
  {
    input: shaped(['audio']),
    output: shaped(['audio']),
    activity: shaped(['audioStream', 'audioStreamId']),
    _activity: shaped(['audioStream', 'audioStreamId']),
    agentState: fc.constantFrom('initializing', 'listening', 'speaking', 42, undefined),
    currentAgent: shaped(['tts']),
    tts: shaped(['label', 'capabilities']),
  },
  { requiredKeys: [] },
);

function context() {
  const disabled: Array<[string, string]> = [];
  const guard = new Guard({ warn: () => {} });
  return {
    ctx: {
      guard,
      featureDisabled: (f: string, why: string) => void disabled.push([f, why]),
    },
    disabled,
  };
}

describe('the framework adapter, given arbitrary shapes', () => {
  it('never throws out of a reach, and turns off only features of its fixed list', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), sessionLike), (session) => {
        const { ctx, disabled } = context();
        const input = new InputAudioTap(session, ctx, () => {});
        const output = new OutputAudioTap(session, ctx, () => ({
          capture: () => {},
          cleared: () => {},
          finished: () => {},
        }));
        activityInput(session);
        ttsStreams(session, ctx);
        input.close();
        output.close();
        for (const [feature, why] of disabled) {
          assert.ok((FRAMEWORK_FEATURES as readonly string[]).includes(feature), feature);
          assert.equal(typeof why, 'string');
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('reads a chain, a speech handle and a TTS of any shape without throwing', () => {
    fc.assert(
      fc.property(
        shaped(['captureFrame', 'on', 'nextInChain']),
        shaped(['_addItemAddedCallback', 'id']),
        shaped(['label', 'capabilities']),
        (head, handle, tts) => {
          const { ctx } = context();
          const sink = chainSink(head);
          assert.ok(typeof sink === 'object' && sink !== null);
          assert.equal(typeof onSpeechItemAdded(handle, ctx, () => {}), 'boolean');
          const streams = ttsStreams({ tts }, ctx);
          assert.ok(streams === undefined || typeof streams === 'boolean');
        },
      ),
      { numRuns: RUNS },
    );
  });
});
