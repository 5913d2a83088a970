import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedRender } from '../../../src/prometheus/shared-render.js';

/** A render the test settles by hand, counting how often it began. */
function manualRenders() {
  const pending: Array<{ ok: (v: string) => void; fail: (e: Error) => void }> = [];
  let begun = 0;
  const render = () => {
    begun += 1;
    return new Promise<string>((ok, fail) => pending.push({ ok, fail }));
  };
  return { render, pending, begun: () => begun };
}

describe('SharedRender', () => {
  it('shares a render in flight however long it takes, per key', async () => {
    let now = 0;
    const shared = new SharedRender<string>(0, () => now);
    const r = manualRenders();
    const a = shared.get('text', r.render);
    now = 60_000;
    const b = shared.get('text', r.render);
    const c = shared.get('openmetrics', r.render);
    assert.equal(r.begun(), 2, 'one render per key');
    r.pending[0]!.ok('one');
    r.pending[1]!.ok('two');
    assert.deepEqual(await Promise.all([a, b, c]), ['one', 'one', 'two']);
  });

  it('reuses a finished render up to reuseMs after it began, then renders anew', async () => {
    let now = 1_000;
    const shared = new SharedRender<string>(500, () => now);
    let n = 0;
    const render = async () => `r${++n}`;
    assert.equal(await shared.get('k', render), 'r1');
    now = 1_500;
    assert.equal(await shared.get('k', render), 'r1', 'at the bound: reused');
    now = 1_501;
    assert.equal(await shared.get('k', render), 'r2', 'past it: anew');
  });

  it('never reuses a failed render, nor one that threw at once', async () => {
    const shared = new SharedRender<string>(10_000, () => 0);
    const r = manualRenders();
    const a = shared.get('k', r.render);
    const b = shared.get('k', r.render);
    r.pending[0]!.fail(new Error('no'));
    await assert.rejects(a, /no/);
    await assert.rejects(b, /no/, 'the scrapes that joined it fail with it');
    await assert.rejects(
      shared.get('k', () => {
        throw new Error('at once');
      }),
      /at once/,
    );
    assert.equal(await shared.get('k', async () => 'fresh'), 'fresh');
  });
});
