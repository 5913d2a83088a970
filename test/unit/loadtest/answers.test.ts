/**
 * Which question an answer belongs to: a late answer (after the caller gave up and spoke again)
 * is counted, never timed as the next question's answer, and a dropped answer does not shift
 * every later one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnswerBook } from '../../../src/loadtest/answers.js';

describe('answer attribution', () => {
  it('times each answer from its own question, and takes the meter report of the same answer', () => {
    const book = new AnswerBook(30_000);
    book.spoke(1_000);
    assert.equal(book.onset(2_200), 'answer');
    const turn = book.report({
      callerSpeechEndAt: 1_000.4,
      agentAudioAt: 2_203,
      heardLatencyMs: 1_202.6,
    });
    assert.ok(turn);
    assert.equal(book.turns[0]!.heardMs, 1_202.6);
    assert.equal(book.turns[0]!.fromMeter, true);
    book.spoke(5_000);
    assert.equal(book.onset(6_000), 'answer');
    assert.equal(book.turns[1]!.heardMs, 1_000);
    assert.equal(book.turns[1]!.fromMeter, false);
  });

  it('keeps a report read before its onset until the caller reads the onset too', () => {
    const book = new AnswerBook(30_000);
    book.spoke(1_000);
    assert.equal(
      book.report({ callerSpeechEndAt: 1_000, agentAudioAt: 1_900, heardLatencyMs: 900 }),
      undefined,
    );
    book.onset(1_905);
    assert.equal(book.turns[0]!.heardMs, 900);
    book.finish();
    assert.equal(book.misattributed, 0);
  });

  it('counts an answer after the caller gave up as late, and does not time the next question with it', () => {
    const book = new AnswerBook(30_000);
    book.spoke(1_000);
    book.giveUp(16_000);
    assert.equal(book.turns[0]!.outcome, 'unanswered');
    book.spoke(19_000);
    // the first question's answer arrives after the second question ended
    assert.equal(book.onset(19_800), 'late');
    assert.equal(book.turns[0]!.outcome, 'late');
    // the meter paired that onset with the second question: not used
    book.report({ callerSpeechEndAt: 19_000, agentAudioAt: 19_800, heardLatencyMs: 800 });
    // the second answer cannot be told apart from the first: it is not timed either
    assert.equal(book.onset(23_000), 'late');
    book.giveUp(34_000);
    book.finish();
    assert.deepEqual(
      book.turns.map((t) => [t.outcome, t.heardMs]),
      [
        ['late', undefined],
        ['late', undefined],
      ],
    );
    assert.equal(book.misattributed, 1);
    // the next question is timed again: nothing is owed
    book.spoke(40_000);
    assert.equal(book.onset(41_000), 'answer');
    assert.equal(book.turns[2]!.heardMs, 1_000);
  });

  it('an answer that starts while the caller speaks again is late, not an answer', () => {
    const book = new AnswerBook(30_000);
    book.spoke(1_000);
    book.giveUp(16_000);
    // the caller speaks its next question from 17 000 to 19 000; the late answer starts at 18 000
    assert.equal(book.onset(18_000), 'late');
    book.spoke(19_000);
    assert.equal(book.onset(20_000), 'answer');
    assert.equal(book.turns[1]!.heardMs, 1_000);
  });

  it('forgets an owed answer after the late window: a dropped answer shifts nothing', () => {
    const book = new AnswerBook(10_000);
    book.spoke(1_000);
    book.giveUp(6_000);
    book.spoke(20_000);
    assert.equal(book.onset(21_000), 'answer');
    assert.equal(book.turns[1]!.heardMs, 1_000);
    assert.equal(book.turns[0]!.outcome, 'unanswered');
  });

  it('counts agent audio with no question waiting as extra, and drops the question left open at hang-up', () => {
    const book = new AnswerBook(30_000);
    assert.equal(book.onset(500), 'extra');
    book.spoke(1_000);
    assert.equal(book.onset(900), 'extra');
    book.finish();
    assert.equal(book.extra, 2);
    assert.equal(book.turns.length, 0);
  });
});
