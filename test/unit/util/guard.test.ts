import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ContainedFailure, Guard } from '../../../src/util/guard.js';

/** Lets every queued microtask (and the promise jobs a thenable's adoption takes) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function guardWithLog() {
  const warnings: { obj: object; msg: string }[] = [];
  const failures: ContainedFailure[] = [];
  const guard = new Guard({ warn: (obj, msg) => warnings.push({ obj, msg: msg ?? '' }) });
  guard.reportTo((f) => failures.push(f));
  return { guard, warnings, failures };
}

describe('Guard: the one way the plugin calls what is not its own', () => {
  it('contains a synchronous throw, counts it with its source and reason, and logs it once', () => {
    const { guard, warnings, failures } = guardWithLog();
    for (let i = 0; i < 3; i++) {
      const value = guard.call('sink', 'sink:sample', () => {
        throw new Error('boom');
      });
      assert.equal(value, undefined);
    }
    assert.deepEqual(
      failures,
      Array(3).fill({ source: 'sink', reason: 'threw', where: 'sink:sample' }),
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.msg, /logged once/);
  });

  it('contains a returned promise that rejects (an async sink whose insert failed)', async () => {
    const { guard, failures } = guardWithLog();
    const returned = guard.call('listener', 'listener:sample', async () => {
      throw new Error('database down');
    });
    assert.ok(returned instanceof Promise);
    await settle();
    assert.deepEqual(failures, [
      { source: 'listener', reason: 'rejected', where: 'listener:sample' },
    ]);
  });

  it('contains a thenable whose then throws, and one whose then getter throws', async () => {
    const { guard, failures } = guardWithLog();
    guard.call('room', 'room:publishData', () => ({
      then() {
        throw new Error('then threw');
      },
    }));
    guard.call('room', 'room:publishData', () =>
      Object.defineProperty({}, 'then', {
        get() {
          throw new Error('getter threw');
        },
      }),
    );
    await settle();
    assert.equal(failures.length, 2);
    assert.ok(failures.every((f) => f.source === 'room' && f.reason === 'rejected'));
  });

  it('passes a value through and does not count a promise that resolves', async () => {
    const { guard, failures, warnings } = guardWithLog();
    assert.equal(
      guard.call('meter', 'otel:add', () => 42),
      42,
    );
    await guard.call('sink', 'sink:turn', async () => 'ok');
    await settle();
    assert.deepEqual(failures, []);
    assert.deepEqual(warnings, []);
  });

  it('run() says whether the call threw synchronously', () => {
    const { guard } = guardWithLog();
    assert.equal(
      guard.run('room', 'room:on', () => undefined),
      true,
    );
    assert.equal(
      guard.run('room', 'room:on', () => {
        throw new TypeError('no on()');
      }),
      false,
    );
  });

  it('counts a logger that throws or rejects, and never logs through it again', async () => {
    const failures: ContainedFailure[] = [];
    let calls = 0;
    const throwing = new Guard({
      warn: () => {
        calls += 1;
        throw new Error('logger down');
      },
    });
    throwing.reportTo((f) => failures.push(f));
    throwing.call('sink', 'sink:sample', () => {
      throw new Error('x');
    });
    const rejecting = new Guard({
      warn: (() => Promise.reject(new Error('async logger'))) as never,
    });
    rejecting.reportTo((f) => failures.push(f));
    rejecting.call('sink', 'sink:turn', () => {
      throw new Error('y');
    });
    await settle();
    assert.equal(calls, 1);
    assert.deepEqual(
      failures.map((f) => `${f.source}:${f.reason}`),
      ['sink:threw', 'logger:threw', 'sink:threw', 'logger:rejected'],
    );
  });

  it('logs at most 256 distinct problems, and counts every one', () => {
    const { guard, warnings, failures } = guardWithLog();
    for (let i = 0; i < 1_000; i++) {
      guard.call('plugin', `where-${i}`, () => {
        throw new Error(String(i));
      });
    }
    assert.equal(failures.length, 1_000);
    assert.equal(warnings.length, 256);
  });

  it('never throws, whatever the callee throws, returns or rejects with (property, 500 runs)', async () => {
    // hostile values: errors whose getters throw, Proxies that throw on every trap, symbols
    const hostile = fc.oneof(
      fc.anything(),
      fc.constant(
        new Proxy(
          {},
          {
            get() {
              throw new Error('trap');
            },
            getPrototypeOf() {
              throw new Error('trap');
            },
          },
        ),
      ),
      fc.constant(
        Object.defineProperty(new Error('e'), 'message', {
          get() {
            throw new Error('message getter');
          },
        }),
      ),
      fc.constant(Symbol('s')),
    );
    await fc.assert(
      fc.asyncProperty(
        hostile,
        fc.constantFrom('throw', 'return', 'reject'),
        async (value, how) => {
          const { guard, failures } = guardWithLog();
          assert.doesNotThrow(() =>
            guard.call('sink', 'sink:sample', () => {
              if (how === 'throw') throw value;
              if (how === 'reject') return Promise.reject(value);
              return value;
            }),
          );
          await settle();
          if (how !== 'return') assert.equal(failures.length, 1);
        },
      ),
      { numRuns: 500 },
    );
  });
});
