/**
 * `useAgentMetrics` in headless Chromium: a React component on a fake room, rendered by react-dom,
 * re-renders with each message and lets go of the room when it changes or unmounts.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { encodeMessage } from '../../src/wire/encode.js';
import type { MetricsMessage } from '../../src/wire/messages.js';
import { alertMessage, summary, summaryMessage, stats } from '../fixtures/overlay-page/messages.js';
import {
  launchBrowser,
  openPage,
  servePage,
  waitFor,
  type PageServer,
} from '../support/browser.js';

const PAGE = fileURLToPath(new URL('../fixtures/overlay-page/react.page.ts', import.meta.url));

let browser: Browser;
let server: PageServer;
before(async () => {
  [browser, server] = await Promise.all([launchBrowser(), servePage({ entry: PAGE })]);
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function openReactPage(topic = 'agent-metrics') {
  const opened = await openPage(browser, server.url);
  const { page } = opened;
  const call = (fn: string, ...args: unknown[]) =>
    page.evaluate(([f, a]) => (globalThis as any).reactHarness[f as string](...(a as unknown[])), [
      fn,
      args,
    ] as const);
  await call('render', topic);
  // React runs effects after the render commits: wait until the hook listens to the room.
  const listeners = () =>
    page.evaluate(() => {
      const { rooms } = (globalThis as any).reactHarness;
      return [rooms.a.listenerCount(), rooms.b.listenerCount()] as number[];
    });
  await waitFor(listeners, ([a]) => a === 3);
  const send = (room: 'a' | 'b', message: MetricsMessage, identity = 'agent-1', t = topic) =>
    call('deliver', room, Buffer.from(encodeMessage(message)!).toString('base64'), identity, t);
  const text = () => call('text') as Promise<string | null>;
  const until = (expected: string) => waitFor(text, (t) => t === expected);
  return { ...opened, call, send, text, until, listeners };
}

describe('useAgentMetrics', () => {
  it('returns undefined until the first message, then the latest state on every change', async () => {
    const p = await openReactPage();
    await p.until('waiting');
    await p.send('a', summaryMessage({ seq: 1 }));
    await p.until('agent-1 support-room seq=1 ttft.p90=1210 alerts=0');
    await p.send('a', alertMessage({ seq: 2 }, 'raised'));
    await p.until('agent-1 support-room seq=2 ttft.p90=1210 alerts=1');
    const slower = summary({ stats: { ...summary().stats, ttft: stats(700, 1500) } });
    await p.send('a', summaryMessage({ seq: 3 }, slower, true));
    await p.until('agent-1 support-room seq=3 ttft.p90=1500 alerts=0 final');
    assert.deepEqual(p.problems, []);
    await p.close();
  });

  it('ignores messages on other topics and packets that are not messages', async () => {
    const p = await openReactPage('my-metrics');
    await p.send('a', summaryMessage({ seq: 1 }), 'agent-1', 'agent-metrics');
    await p.call(
      'deliver',
      'a',
      Buffer.from('{"v":2}').toString('base64'),
      'agent-1',
      'my-metrics',
    );
    await p.send('a', summaryMessage({ seq: 2, room: 'mine' }));
    await p.until('agent-1 mine seq=2 ttft.p90=1210 alerts=0');
    await p.close();
  });

  it('follows a new room and lets go of the old one, and of every room on unmount', async () => {
    const p = await openReactPage();
    await p.send('a', summaryMessage({ seq: 1, room: 'room-a' }));
    await p.until('agent-1 room-a seq=1 ttft.p90=1210 alerts=0');
    await p.call('use', 'b');
    await p.until('waiting');
    await waitFor(p.listeners, ([a, b]) => a === 0 && b === 3);
    await p.send('a', summaryMessage({ seq: 2, room: 'room-a' }));
    await p.send('b', summaryMessage({ seq: 1, room: 'room-b' }), 'agent-b');
    await p.until('agent-b room-b seq=1 ttft.p90=1210 alerts=0');
    await p.call('use', 'none');
    await p.until('waiting');
    await p.call('use', 'b');
    await p.call('unmount');
    assert.deepEqual(await p.listeners(), [0, 0]);
    assert.deepEqual(p.problems, []);
    await p.close();
  });
});
