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

const codePoints = (s: string) => [...s].map((c) => c.codePointAt(0)!.toString(16)).join(' ');

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

  it('replaces tag characters, fillers, variation selectors and other invisible code points', () => {
    const hidden = [
      '\u{E0001}\u{E0041}\u{E007F}', // tag characters: "ASCII smuggling"
      '\u180E', // Mongolian vowel separator
      '\u115F\u1160\u3164\uFFA0', // Hangul fillers
      '\uFE0F\u{E0100}\u{E01EF}', // variation selectors
      '\u00AD\u034F\u2065\u{1D173}', // soft hyphen, grapheme joiner, unassigned, musical format
      '\uE000\u{F0000}\uFFFF\uD800', // private use, a noncharacter, a lone surrogate
    ];
    for (const text of hidden) {
      assert.equal(printable(`a${text}b`), `a${'?'.repeat([...text].length)}b`, codePoints(text));
    }
    const line = safeJson({ name: 'x\u{E0041}\u3164' });
    assert.equal(line, '{"name":"x\\udb40\\udc41\\u3164"}');
    assert.equal(JSON.parse(line).name, 'x\u{E0041}\u3164');
  });

  it('keeps printable text of every script, and cuts a long received string with an ellipsis', () => {
    assert.equal(printable('café 東京 Ελληνικά עברית ✓'), 'café 東京 Ελληνικά עברית ✓');
    assert.equal(printable('x'.repeat(1000)), `${'x'.repeat(127)}…`);
    assert.equal(printable('😀'.repeat(200), 4), '😀😀😀…');
    // a pile of combining marks is kept to a few per character, so it cannot cover other lines
    assert.equal(printable(`e${'\u0301'.repeat(50)}`), `e${'\u0301'.repeat(4)}`);
  });

  it('writes a day-long e2e and stage as such, and a longer one as more than a day', () => {
    const day = 86_400_000;
    const long = renderWaterfall(
      turn({
        e2eLatencyMs: day,
        stages: [{ stage: 'llm', startAt: 0, offsetMs: 0, durationMs: day }],
      }),
    );
    assert.match(long[0]!, /: e2e 86400 s$/);
    assert.match(long[1]!, /█ 86400 s$/);
    const longer = renderWaterfall(
      turn({
        e2eLatencyMs: 1e15,
        stages: [{ stage: 'llm', startAt: 0, offsetMs: 0, durationMs: Number.POSITIVE_INFINITY }],
      }),
    );
    assert.match(longer[0]!, /: e2e > 86400 s$/);
    assert.match(longer[1]!, /█ > 86400 s$/);
  });
});
