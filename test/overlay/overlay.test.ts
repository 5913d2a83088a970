/**
 * The browser overlay in headless Chromium: a page bundles the real overlay with a fake room, and
 * each test delivers real encoded wire messages (and hostile ones) and reads the panel's DOM.
 */
import assert from 'node:assert/strict';
import { STAT_NAMES } from '../../src/catalog/index.js';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { MetricsMessage } from '../../src/wire/messages.js';
import { DEFAULT_TOPIC } from '../../src/wire/messages.js';
import { encodeMessage } from '../../src/wire/encode.js';
import {
  activeAlert,
  alertMessage,
  stats,
  summary,
  summaryMessage,
  turn,
  turnMessage,
} from '../fixtures/overlay-page/messages.js';
import {
  launchBrowser,
  openPage,
  servePage,
  waitFor,
  type PageServer,
} from '../support/browser.js';
import type { OpenedPage } from '../support/browser.js';
import { seededRandom } from '../support/timing.js';

const PAGE = fileURLToPath(new URL('../fixtures/overlay-page/overlay.page.ts', import.meta.url));
const HOSTILE = '<img src=x onerror="window.__pwned=1">';
const AMBER = 'rgb(245, 165, 36)';
const RED = 'rgb(229, 72, 77)';

function encode(message: MetricsMessage): Uint8Array {
  const bytes = encodeMessage(message);
  assert.ok(bytes, 'the test message fits on the wire');
  return bytes;
}

const base64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');

/** A page with the overlay mounted, and ways to feed and read it. */
async function openOverlay(browser: Browser, url: string, mountOptions: object = {}) {
  const opened = await openPage(browser, url);
  const { page } = opened;
  await page.evaluate((o) => (globalThis as any).overlayHarness.mount(o), mountOptions);
  /** `identity` null: no participant; `topic` null: no topic (as livekit-client may deliver). */
  const sendBytes = (
    bytes: Uint8Array | string,
    identity: string | null = 'agent-1',
    topic: string | null = DEFAULT_TOPIC,
  ) =>
    page.evaluate(([b, i, t]) => (globalThis as any).overlayHarness.deliver(b, i, t ?? undefined), [
      base64(bytes),
      identity,
      topic,
    ] as const);
  const read = (): Promise<any> => page.evaluate(() => (globalThis as any).overlayHarness.read());
  return {
    ...opened,
    send: (message: MetricsMessage, identity?: string | null, topic?: string | null) =>
      sendBytes(encode(message), identity, topic),
    sendBytes,
    read,
    until: (done: (panel: any) => boolean) => waitFor(read, done),
  };
}

function assertNoProblems(opened: OpenedPage) {
  assert.deepEqual(opened.problems, [], 'no console errors, page errors or outside requests');
}

let browser: Browser;
let server: PageServer;
let strictServer: PageServer;
before(async () => {
  [browser, server, strictServer] = await Promise.all([
    launchBrowser(),
    servePage({ entry: PAGE }),
    servePage({ entry: PAGE, csp: "default-src 'self'; script-src 'self'; style-src 'self'" }),
  ]);
});
after(async () => {
  await browser?.close();
  await server?.close();
  await strictServer?.close();
});

describe('mountMetricsOverlay in Chromium', () => {
  it('says it is waiting for metrics before the first message', async () => {
    const o = await openOverlay(browser, server.url);
    const panel = await o.read();
    assert.deepEqual(panel.status, ['waiting for metrics…']);
    assert.deepEqual(panel.rows, {});
    assertNoProblems(o);
    await o.close();
  });

  it('shows each component’s p50, p90 and error rate from the summary, formatted', async () => {
    const o = await openOverlay(browser, server.url);
    await o.send(summaryMessage({ seq: 1 }));
    const panel = await o.until((p) => p.status[0] === 'live');
    const cells = Object.fromEntries(
      Object.entries(panel.rows).map(([metric, row]: [string, any]) => [
        metric,
        [row.p50, row.p90, row.error_rate],
      ]),
    );
    // a row per stat of the catalog; those without samples show dashes
    const expected: Record<string, Array<string | null>> = {
      stt_latency: ['212 ms', '412 ms', '0%'],
      ttft: ['640 ms', '1.21 s', '12.5%'],
      ttlt: ['1.48 s', '2.65 s', null], // the LLM's error rate is beside TTFT
      tokens_per_sec: ['48/s', '71/s', null],
      function_execution: ['95 ms', '340 ms', '20%'],
      tts_latency: ['180 ms', '305 ms', '0%'],
      e2e_latency: ['1.12 s', '1.89 s', null],
    };
    assert.deepEqual(
      cells,
      Object.fromEntries(STAT_NAMES.map((name) => [name, expected[name] ?? ['–', '–', null]])),
    );
    assert.equal(panel.room, 'support-room');
    assert.equal(panel.agent, 'agent-1');
    assert.equal(panel.turns, '12 turns');
    assertNoProblems(o);
    await o.close();
  });

  it('marks the bottleneck’s row, and moves the mark when the bottleneck changes', async () => {
    const o = await openOverlay(browser, server.url);
    await o.send(summaryMessage({ seq: 1 }));
    let panel = await o.until((p) => p.status[0] === 'live');
    const marked = (p: any) => Object.keys(p.rows).filter((m) => p.rows[m].bottleneck);
    assert.deepEqual(marked(panel), ['ttft'], 'the LLM is the bottleneck: its TTFT row');
    assert.equal(panel.rows.ttft.label, 'LLM TTFT bottleneck', 'the mark is visible as text');
    assert.notEqual(panel.bottleneckBackground, 'rgba(0, 0, 0, 0)', 'and highlighted');

    const slowTts = summary({
      bottleneck: 'tts',
      stats: { ...summary().stats, tts_latency: stats(900, 2400) },
    });
    await o.send(summaryMessage({ seq: 2 }, slowTts));
    panel = await o.until((p) => p.rows.tts_latency?.p90 === '2.4 s');
    assert.deepEqual(marked(panel), ['tts_latency']);
    await o.close();
  });

  it('shows raised alerts as chips coloured by level, and removes cleared ones', async () => {
    const o = await openOverlay(browser, server.url);
    await o.send(summaryMessage({ seq: 1 }));
    await o.send(alertMessage({ seq: 2 }, 'raised'));
    const errors = activeAlert({
      metric: 'error_rate',
      component: 'llm',
      level: 'critical',
      value: 12.5,
      threshold: 10,
    });
    await o.send(alertMessage({ seq: 3 }, 'raised', errors));
    let panel = await o.until((p) => p.alerts.length === 2);
    assert.deepEqual(
      panel.alerts.map((a: any) => [a.level, a.metric, a.text, a.className, a.color]),
      [
        [
          'critical',
          'error_rate',
          'LLM error rate 12.5%: critical since 12.5% ≥ 10%, clears below 9%',
          'lkm-alert lkm-critical',
          RED,
        ],
        [
          'warning',
          'ttft',
          'LLM TTFT p90 2.1 s: warning since 2.1 s ≥ 2 s, clears below 1.8 s',
          'lkm-alert lkm-warning',
          AMBER,
        ],
      ],
    );
    assert.equal(panel.rows.ttft.alertLevel, 'warning', 'the alerting row is flagged too');

    await o.send(alertMessage({ seq: 4 }, 'cleared'));
    panel = await o.until((p) => p.alerts.length === 1);
    assert.equal(panel.alerts[0].metric, 'error_rate');
    assert.equal(panel.rows.ttft.alertLevel, null);
    assertNoProblems(o);
    await o.close();
  });

  it('takes the active alerts from each new summary', async () => {
    const o = await openOverlay(browser, server.url);
    await o.send(
      summaryMessage(
        { seq: 1 },
        summary({ alerts: [activeAlert({ metric: 'stt_latency', value: 1600, threshold: 1500 })] }),
      ),
    );
    let panel = await o.until((p) => p.alerts.length === 1);
    assert.equal(
      panel.alerts[0].text,
      'STT latency p90 1.6 s: warning since 1.6 s ≥ 1.5 s, clears below 1.35 s',
    );
    await o.send(summaryMessage({ seq: 2 }));
    panel = await o.until((p) => p.alerts.length === 0);
    await o.close();
  });

  it('draws the last turn as a waterfall: one bar per stage, widths proportional to durations', async () => {
    const o = await openOverlay(browser, server.url);
    await o.send(turnMessage({ seq: 1 }));
    const panel = await o.until((p) => p.stages.length > 0);
    assert.deepEqual(
      panel.stages.map((s: any) => [s.stage, s.name, s.duration]),
      [
        ['stt', 'STT', '800 ms'],
        ['end_of_turn', 'end of turn', '200 ms'],
        ['llm', 'LLM', '900 ms'],
        ['function', 'lookup_order', '300 ms'],
        ['tts', 'TTS', '1.8 s'],
      ],
    );
    const [stt, , llm, , tts] = panel.stages;
    // The turn spans -600 ms (STT starts before the user stops) to 3200 ms (TTS ends).
    assert.ok(Math.abs(tts.width / llm.width - 1800 / 900) < 0.02, `${tts.width} / ${llm.width}`);
    assert.ok(
      Math.abs((llm.left - stt.left) / llm.width - 800 / 900) < 0.02,
      'LLM starts 800 ms after STT',
    );
    assert.equal(panel.e2e, '1.5 s to answer');
    assert.equal(panel.e2eLines[0], `${((2100 / 3800) * 100).toFixed(3)}%`, 'e2e marker at 1.5 s');
    assert.equal(panel.status[0], 'waiting for metrics…', 'no summary yet');
    await o.close();
  });

  it('shows what the last turn cost only when asked (showCost), in the price table’s currency', async () => {
    const usage = {
      entries: [
        {
          component: 'llm' as const,
          provider: 'api.openai.com',
          model: 'gpt-4o-mini',
          amounts: { promptTokens: 1200, completionTokens: 40 },
          cost: 0.00020400000000000003,
        },
      ],
      currency: 'USD',
      cost: 0.00020400000000000003,
    };
    for (const showCost of [true, false]) {
      const o = await openOverlay(browser, server.url, showCost ? { showCost } : {});
      await o.send(turnMessage({ seq: 1 }, turn({ usage })));
      const panel = await o.until((p) => p.stages.length > 0);
      if (showCost) assert.match(panel.turnTitle, / · 0\.000204 USD$/);
      else assert.doesNotMatch(panel.turnTitle, /USD/);
      await o.close();
    }
  });

  it('draws at most 16 waterfall rows and says how many stages it left out', async () => {
    const o = await openOverlay(browser, server.url);
    const t = turn();
    const tools = Array.from({ length: 20 }, (_, i) => ({
      stage: 'function' as const,
      name: `tool_${i}`,
      startAt: t.startedAt + 1100 + i,
      offsetMs: 1100 + i,
      durationMs: 10,
    }));
    await o.send(turnMessage({ seq: 1 }, { ...t, stages: [...t.stages, ...tools] }));
    const panel = await o.until((p) => p.stages.length > 0);
    assert.equal(panel.stages.length, 16);
    assert.equal(panel.more, '+ 9 more stages');
    await o.close();
  });

  it('says the session ended when the final summary arrives', async () => {
    const o = await openOverlay(browser, server.url);
    await o.send(summaryMessage({ seq: 1 }));
    await o.until((p) => p.status[0] === 'live');
    await o.send(summaryMessage({ seq: 2 }, summary({ turns: 13 }), true));
    const panel = await o.until((p) => p.status[0] === 'session ended');
    assert.equal(panel.turns, '13 turns');
    await o.close();
  });

  it('ignores other versions, topics, garbage, oversize and ill-typed payloads, and keeps rendering', async () => {
    const o = await openOverlay(browser, server.url);
    await o.send(summaryMessage({ seq: 1 }));
    await o.until((p) => p.rows.ttft?.p90 === '1.21 s');

    const other = summary({ stats: { ...summary().stats, ttft: stats(1, 9999) } });
    const json = (m: unknown) => JSON.stringify(m);
    const valid = summaryMessage({ seq: 5 }, other);
    const random = seededRandom(7);
    const garbage = Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256));
    const huge = json({
      ...valid,
      summary: { ...other, labels: { pad: 'x'.repeat(1024 * 1024) } },
    });
    const hostile: (Uint8Array | string)[] = [
      json({ ...valid, v: 1 }),
      json({ ...valid, v: '2' }),
      garbage,
      Uint8Array.from([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28]), // invalid UTF-8
      huge,
      '',
      'null',
      '[]',
      '"summary"',
      '1e400',
      '{"v":2}',
      '['.repeat(7000) + ']'.repeat(7000),
      json({ ...valid, seq: -1 }),
      json({ ...valid, seq: 1.5 }),
      json({ ...valid, type: 'unknown' }),
      json({ ...valid, summary: null }),
      json({
        ...valid,
        summary: {
          ...other,
          stats: { ...other.stats, ttft: { ...other.stats.ttft, p90: '9999' } },
        },
      }),
      json({ ...valid, summary: { ...other, bottleneck: 'gpu' } }),
      json({ ...valid, summary: { ...other, alerts: 'none' } }),
      json({ ...valid, summary: { ...other, turns: 'many' } }),
      json(turnMessage({ seq: 6 }, { ...turn(), stages: 'none' as never })),
      json(turnMessage({ seq: 7 }, { ...turn(), stages: [{ stage: 'gpu' }] as never })),
      json(alertMessage({ seq: 8 }, 'exploded' as never)),
    ];
    for (const payload of hostile) await o.sendBytes(payload);
    await o.send(valid, 'agent-1', 'other-topic');
    await o.send(valid, 'agent-1', null);
    await o.send(summaryMessage({ seq: 1 }, other)); // a repeat of an applied sequence number
    // A `__proto__` key in a received record must not reach any prototype.
    const byName = '{"__proto__":{"count":1,"errors":0,"avg":1,"polluted":"yes"}}';
    const noTools = summary({ functions: {} });
    const withProto = json(summaryMessage({ seq: 2 }, noTools)).replace(
      '"functions":{}',
      `"functions":${byName}`,
    );
    assert.ok(withProto.includes('__proto__'));
    await o.sendBytes(withProto);
    await new Promise((resolve) => setTimeout(resolve, 400));
    let panel = await o.read();
    assert.equal(panel.rows.ttft.p90, '1.21 s', 'nothing above changed the panel');
    assert.equal(
      await o.page.evaluate(() => 'polluted' in {}),
      false,
      'Object.prototype untouched',
    );
    assert.equal(panel.turns, '12 turns', 'the message with the odd tool name was still read');

    await o.send(summaryMessage({ seq: 9 }, other));
    panel = await o.until((p) => p.rows.ttft?.p90 === '10 s');
    assert.equal(panel.status[0], 'live');
    assertNoProblems(o);
    await o.close();
  });

  it('renders HTML in received strings as literal text and never runs it', async () => {
    const o = await openOverlay(browser, server.url);
    const t = turn();
    const stages = t.stages.map((s) => (s.stage === 'function' ? { ...s, name: HOSTILE } : s));
    await o.send(
      summaryMessage({ seq: 1, room: HOSTILE }, summary({ labels: { agent_name: HOSTILE } })),
      HOSTILE,
    );
    await o.send(turnMessage({ seq: 2, room: HOSTILE }, { ...t, id: HOSTILE, stages }), HOSTILE);
    let panel = await o.until((p) => p.stages.length > 0 && p.status[0] === 'live');
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for an onerror to fire
    panel = await o.read();
    assert.equal(panel.room, HOSTILE);
    assert.equal(panel.agent, HOSTILE);
    assert.equal(panel.stages.find((s: any) => s.stage === 'function').name, HOSTILE);
    assert.equal(panel.images, 0, 'no element was created from the text');
    assert.equal(await o.page.evaluate(() => (globalThis as any).__pwned), undefined);
    assertNoProblems(o);
    await o.close();
  });

  it('asks agents in the room, and agents that join later, for their summary over RPC', async () => {
    const opened = await openPage(browser, server.url);
    const h = (fn: string, ...args: unknown[]) =>
      opened.page.evaluate(
        ([f, a]) => (globalThis as any).overlayHarness[f as string](...(a as unknown[])),
        [fn, args] as const,
      );
    const answer = (room: string, session: string) =>
      new TextDecoder().decode(encode(summaryMessage({ seq: 3, room, session })));
    await h('addParticipant', 'agent-1', true, answer('room-one', 'sess-1'));
    await h('addParticipant', 'human', false, answer('not-asked', 'sess-x'));
    await h('addParticipant', 'no-metrics', true, undefined, 'Method not supported at destination');
    await h('addParticipant', 'unknown-kind', undefined, undefined, 'Response timeout');
    await h('mount', {});
    const read = () => opened.page.evaluate(() => (globalThis as any).overlayHarness.read());
    let panel = await waitFor(read, (p: any) => p.room === 'room-one');
    const calls = () =>
      opened.page.evaluate(() => (globalThis as any).overlayHarness.room.rpcCalls);
    assert.deepEqual(
      (await calls()).map((c: any) => [c.destinationIdentity, c.method, c.payload]).sort(),
      [
        ['agent-1', 'agent-metrics.summary', ''],
        ['no-metrics', 'agent-metrics.summary', ''],
        ['unknown-kind', 'agent-metrics.summary', ''],
      ],
      'every remote participant that may be an agent, and not the human',
    );

    await h('addParticipant', 'agent-2', true, answer('room-one', 'sess-2'));
    await h('join', 'agent-2');
    panel = await waitFor(read, (p: any) => p.agents === 2);
    assert.deepEqual(panel.status, ['live', 'live']);
    assertNoProblems(opened);
    await opened.close();
  });

  it('reads only the given topic, and only the given agent when agentIdentity is set', async () => {
    const o = await openOverlay(browser, server.url, {
      topic: 'my-metrics',
      agentIdentity: 'agent-2',
    });
    await o.send(summaryMessage({ seq: 1, room: 'default-topic' }), 'agent-2', DEFAULT_TOPIC);
    await o.send(summaryMessage({ seq: 1, room: 'other-agent' }), 'agent-1', 'my-metrics');
    await o.send(summaryMessage({ seq: 1, room: 'anonymous' }), null, 'my-metrics');
    await o.send(summaryMessage({ seq: 1, room: 'the-one' }), 'agent-2', 'my-metrics');
    const panel = await o.until((p) => p.status[0] === 'live');
    assert.equal(panel.room, 'the-one');
    assert.equal(panel.agents, 1);
    await o.close();
  });

  it('coalesces a burst of messages into a few renders showing the last', async () => {
    const o = await openOverlay(browser, server.url);
    await o.page.evaluate(() => (globalThis as any).overlayHarness.watchRenders());
    const burst = Array.from({ length: 60 }, (_, i) =>
      base64(encode(summaryMessage({ seq: i + 1 }, summary({ turns: i + 1 })))),
    );
    await o.page.evaluate(
      ([b, t]) => (globalThis as any).overlayHarness.deliverMany(b, 'agent-1', t),
      [burst, DEFAULT_TOPIC] as const,
    );
    await o.until((p) => p.turns === '60 turns');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const renders = await o.page.evaluate(() => (globalThis as any).overlayHarness.renderCount);
    assert.ok(renders >= 1 && renders <= 2, `60 messages in one burst, ${renders} renders`);
    await o.close();
  });

  it('renders into the given target and folds to its heading', async () => {
    const o = await openOverlay(browser, server.url, { intoTarget: true, title: 'My agent' });
    const parent = await o.page.evaluate(
      () =>
        (globalThis as any).document.querySelector('[data-lk-metrics-overlay]').parentElement.id,
    );
    assert.equal(parent, 'target');
    assert.equal((await o.read()).collapsed, false);
    await o.page.evaluate(() => (globalThis as any).overlayHarness.toggle());
    assert.equal((await o.read()).collapsed, true);
    await o.close();
  });

  it('removes the panel and its listeners on unmount, ignores later messages, and unmounts once', async () => {
    const o = await openOverlay(browser, server.url);
    await o.send(summaryMessage({ seq: 1 }));
    await o.until((p) => p.status[0] === 'live');
    await o.page.evaluate(() => (globalThis as any).overlayHarness.unmount());
    assert.equal(await o.read(), null);
    const listeners = await o.page.evaluate(() =>
      (globalThis as any).overlayHarness.room.listenerCount(),
    );
    assert.equal(listeners, 0);
    await o.send(summaryMessage({ seq: 2 }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await o.read(), null);
    await o.page.evaluate(() => (globalThis as any).overlayHarness.unmount());
    assertNoProblems(o);
    await o.close();
  });

  it('refuses a room without on/off and a bad option with a MetricsConfigError', async () => {
    const opened = await openPage(browser, server.url);
    const tryMount = (withRoom: boolean, options: unknown) =>
      opened.page.evaluate(([r, o]) => (globalThis as any).overlayHarness.tryMount(r, o), [
        withRoom,
        options,
      ] as const);
    const errors = [
      await tryMount(false, {}),
      await tryMount(true, { topic: '' }),
      await tryMount(true, { target: 'body' }),
      await tryMount(true, { heardLatency: 'yes' }),
    ];
    assert.deepEqual(errors, [
      'MetricsConfigError: livekit-agents-metrics: invalid option `room`: expected a livekit-client Room (an object with on/off)',
      'MetricsConfigError: livekit-agents-metrics: invalid option `topic`: expected the non-empty data topic the agent publishes on',
      'MetricsConfigError: livekit-agents-metrics: invalid option `target`: expected an HTMLElement, or nothing for a floating panel',
      "MetricsConfigError: livekit-agents-metrics: invalid option `heardLatency`: expected { measure: measureHeardLatency } (imported from 'livekit-agents-metrics/overlay')",
    ]);
    await opened.close();
  });
});

describe('the overlay’s source', () => {
  it('has no way to parse HTML: no innerHTML, outerHTML, insertAdjacentHTML or document.write', () => {
    const dir = new URL('../../src/overlay/', import.meta.url);
    const parsers =
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment/;
    for (const name of readdirSync(dir)) {
      assert.doesNotMatch(readFileSync(new URL(name, dir), 'utf8'), parsers, name);
    }
  });
});

describe('mountMetricsOverlay under a strict Content-Security-Policy', () => {
  it('is styled and raises no violation without inline styles or scripts', async () => {
    const o = await openOverlay(browser, strictServer.url);
    await o.send(summaryMessage({ seq: 1 }));
    await o.send(turnMessage({ seq: 2 }));
    const panel = await o.until((p) => p.status[0] === 'live' && p.stages.length > 0);
    assert.notEqual(panel.bottleneckBackground, 'rgba(0, 0, 0, 0)', 'the stylesheet applies');
    assert.ok(panel.stages[2].width > 0, 'bars are positioned');
    assertNoProblems(o);
    await o.close();
  });
});
