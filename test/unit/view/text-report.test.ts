/**
 * The terminal renderers take what arrived over the data channel: no received number or string
 * can crash them or drive the terminal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  printable,
  renderSummary,
  renderWaterfall,
  safeJson,
} from '../../../src/view/text-report.js';
import type { TurnTimeline } from '../../../src/types.js';
import { decodeMessage } from '../../../src/wire/decode.js';
import { summary, turn, turnMessage } from '../../fixtures/overlay-page/messages.js';

describe('the terminal report', () => {
  it('draws a turn with absurd offsets and durations within its width, and never throws', () => {
    const hostile: TurnTimeline = {
      ...turn(),
      e2eLatencyMs: 1e300,
      stages: [
        { stage: 'llm', startAt: 0, offsetMs: -1e15, durationMs: 1e15 },
        { stage: 'tts', startAt: 0, offsetMs: Number.NaN, durationMs: Infinity },
        { stage: 'function', name: 'x', startAt: 0, offsetMs: 5, durationMs: -1e15 },
      ],
    };
    // the message a hostile agent would send is refused by the decoder already…
    assert.equal(decodeMessage(JSON.stringify(turnMessage({ seq: 1 }, hostile))), null);
    // …and the renderer clamps whatever it is given
    const lines = renderWaterfall(hostile, 48);
    assert.equal(lines.length, 4);
    for (const line of lines) assert.ok(line.length < 120, `${line.length}: ${line.slice(0, 80)}`);
  });

  it('draws at most 16 stage rows, and says how many it left out', () => {
    const many = turn({
      stages: Array.from({ length: 500 }, (_, i) => ({
        stage: 'function' as const,
        name: `t${i}`,
        startAt: 0,
        offsetMs: i,
        durationMs: 1,
      })),
    });
    const lines = renderWaterfall(many);
    assert.equal(lines.length, 1 + 16 + 1);
    assert.match(lines.at(-1)!, /\+ 484 more stages/);
  });

  it('prints received strings without controls, C1 escapes or bidi overrides', () => {
    const evil = 'ok\u001b[2J\u009b31m\u0085\u202egnp.exe\u2066x\u200f';
    assert.equal(printable(evil), 'ok?[2J?31m??gnp.exe?x?');
    const table = renderSummary(
      summary({ labels: {} }),
      turn({ stages: [{ stage: 'function', name: evil, startAt: 0, offsetMs: 0, durationMs: 5 }] }),
      { color: false },
    );
    assert.doesNotMatch(
      table,
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/,
    );
  });

  it('writes JSON lines whose strings carry those characters only as \\u escapes', () => {
    const evil = '\u202e\u0085\u009b\u001b\u2028';
    const line = safeJson({ name: evil });
    assert.equal(line, '{"name":"\\u202e\\u0085\\u009b\\u001b\\u2028"}');
    assert.equal(JSON.parse(line).name, evil, 'the same value for a JSON reader');
  });
  it('shows turn-taking and the session cost when there are any, with the currency made safe', () => {
    const plain = renderSummary(
      summary({
        turnTaking: {
          interruptions: 0,
          falseInterruptions: 0,
          resumedFalseInterruptions: 0,
          backchannels: 0,
        },
      }),
      undefined,
      { color: false },
    );
    assert.doesNotMatch(plain, /interruptions|cost/);
    const text = renderSummary(
      summary({
        turnTaking: {
          interruptions: 2,
          falseInterruptions: 1,
          resumedFalseInterruptions: 1,
          backchannels: 3,
        },
        usage: { entries: [], currency: 'USD\x1b[2J', cost: 0.0123456 },
      }),
      undefined,
      { color: false },
    );
    assert.match(
      text,
      /^interruptions 2, false 1 \(resumed 1\), backchannels 3 {3}cost 0\.01235 USD\?\[2J$/m,
    );
  });
});
