/**
 * The limits on viewers' summary requests, on a mocked clock (`node:test`'s mock.timers, Date):
 * each sender 2 a second, unnamed requests together 1 a second, everyone together 10 a second.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import {
  ANONYMOUS,
  GLOBAL,
  PER_SENDER,
  RequestLimiter,
} from '../../../src/publish/request-limiter.js';

const T0 = 1_760_000_000_000;

describe('RequestLimiter', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: T0 }));
  afterEach(() => mock.timers.reset());
  const limiter = () => new RequestLimiter(() => Date.now());
  const allowed = (l: RequestLimiter, sender: string | undefined, n: number) =>
    Array.from({ length: n }, () => l.allow(sender));

  it('has the documented limits', () => {
    assert.deepEqual([PER_SENDER, ANONYMOUS, GLOBAL], [2, 1, 10]);
  });

  it('lets each sender 2 requests a second, over a sliding second', () => {
    const l = limiter();
    assert.deepEqual(allowed(l, 'a', 3), [true, true, false]);
    assert.deepEqual(allowed(l, 'b', 3), [true, true, false], 'senders are counted apart');
    mock.timers.tick(600);
    assert.equal(l.allow('a'), false);
    mock.timers.tick(399); // 999 ms after the first two
    assert.equal(l.allow('a'), false);
    mock.timers.tick(1); // a second after them: both have left the window
    assert.deepEqual(allowed(l, 'a', 3), [true, true, false]);
  });

  it('lets requests that name no sender through once a second, together', () => {
    const l = limiter();
    assert.deepEqual(allowed(l, undefined, 2), [true, false]);
    assert.equal(l.allow('a'), true, 'a named sender is not held back by the unnamed ones');
    mock.timers.tick(999);
    assert.equal(l.allow(undefined), false);
    mock.timers.tick(1);
    assert.deepEqual(allowed(l, undefined, 2), [true, false]);
  });

  it('lets all senders together 10 requests a second, however many identities they claim', () => {
    const l = limiter();
    const first = Array.from({ length: 12 }, (_, i) => l.allow(`viewer-${i}`));
    assert.deepEqual(first, [...Array(10).fill(true), false, false]);
    assert.equal(l.allow(undefined), false, 'nor an unnamed one');
    mock.timers.tick(500);
    assert.equal(l.allow('fresh'), false, 'the first ten are still in the last second');
    mock.timers.tick(500);
    assert.equal(l.allow('fresh'), true);
    // a refused request is not counted: viewer-10 never got an answer, so it gets two now
    assert.deepEqual(allowed(l, 'viewer-10', 3), [true, true, false]);
  });
});
