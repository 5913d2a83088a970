/**
 * The README's main command: `npm run demo` runs a real AgentSession with no LiveKit server, and
 * its overlay page (in headless Chromium) shows the session's metrics, fed through the real
 * publisher. With LIVEKIT_URL and a key set, the demo agent joins a real LiveKit room and the
 * page joins it with livekit-client. The demo runs as its own process, as a user runs it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage, waitFor } from '../support/browser.js';
import { type LiveKitServer, startLiveKitServer } from '../support/livekit-server.js';

const DEMO = fileURLToPath(new URL('../../examples/demo.ts', import.meta.url));

/** Starts the demo with its output piped; resolves once it prints its overlay page's URL. */
async function startDemo(env: Record<string, string>, turns: number, extraArgs: string[] = []) {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', DEMO, '--turns', String(turns), '--overlay-port', '0', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
  const overlayUrl = await waitFor(
    async () => /Overlay: +(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1],
    (url) => url !== undefined || proc.exitCode !== null,
    60_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\ndemo output:\n${output}`);
  });
  if (!overlayUrl) throw new Error(`the demo exited early:\n${output}`);
  return { proc, exited, overlayUrl, output: () => output };
}

describe('the demo with its overlay page', () => {
  const demos: ChildProcess[] = [];
  let browser: Browser | undefined;
  let server: LiveKitServer | undefined;
  after(async () => {
    await browser?.close();
    for (const demo of demos) demo.kill('SIGTERM');
    await server?.stop();
  });

  it('without a LiveKit server, serves an overlay that shows the demo session live, then its final summary, and keeps serving until Ctrl-C though its output is piped', async () => {
    const demo = await startDemo({ LIVEKIT_URL: '' }, 3);
    demos.push(demo.proc);
    const { exited, overlayUrl } = demo;

    browser ??= await launchBrowser();
    const { page, problems, close } = await openPage(browser, overlayUrl);
    const panel = (field: string) =>
      page
        .locator(`[data-field="${field}"]`)
        .first()
        .textContent({ timeout: 1_000 })
        .catch(() => null);

    // live: turns appear while the demo runs
    const live = await waitFor(
      () => panel('turns'),
      (text) => text !== null && /^[1-3] turns?$/.test(text),
      60_000,
    );
    assert.match(live!, /turn/);
    assert.equal(
      await page.locator('#status').textContent(),
      'fed by the demo session on this machine (no LiveKit server)',
    );

    // the end: the final summary of 3 turns, with the waterfall of the last one
    await waitFor(
      () => page.locator('[data-status="ended"]').count(),
      (n) => n === 1,
      60_000,
    );
    assert.equal(await panel('turns'), '3 turns');
    assert.ok(
      (await page.locator('[data-stage="llm"]').count()) >= 1,
      'a waterfall of the last turn',
    );
    const ttftP50 = await page
      .locator('[data-metric="ttft"] [data-field="p50"]')
      .first()
      .textContent();
    assert.match(ttftP50 ?? '', /\d+(\.\d+)? m?s/);
    assert.deepEqual(problems, []);

    // Piped output, no --exit: it says it stays up, and does, until Ctrl-C (SIGINT).
    assert.match(demo.output(), /then it keeps serving \/metrics and the overlay until Ctrl-C/);
    await waitFor(
      async () => /stay up: Ctrl-C to exit/.test(demo.output()),
      (said) => said,
      10_000,
    );
    const metricsUrl = /Prometheus: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(demo.output())?.[1];
    assert.ok(metricsUrl, demo.output());
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(demo.proc.exitCode, null, 'still running after its turns');
    const scrape = await fetch(metricsUrl);
    assert.equal(scrape.status, 200);
    assert.match(await scrape.text(), /lk_agents_llm_ttft_seconds_count\{[^}]*\} [1-9]/);
    assert.equal((await fetch(overlayUrl)).status, 200, 'the overlay page is still served');
    demo.proc.kill('SIGINT');
    assert.equal(await exited, 0, demo.output());
    assert.match(demo.output(), /final summary/);
    await close();
  });

  it('with LIVEKIT_URL, joins a real room, and the page joins it with livekit-client', async () => {
    server = await startLiveKitServer({ logDir: 'test-artifacts/e2e/demo' });
    const demo = await startDemo(
      {
        LIVEKIT_URL: server.url,
        LIVEKIT_API_KEY: server.apiKey,
        LIVEKIT_API_SECRET: server.apiSecret,
      },
      2,
      ['--exit'],
    );
    demos.push(demo.proc);
    assert.match(demo.output(), /fed by LiveKit room "agents-metrics-demo"/);
    assert.match(demo.output(), /then it exits \(--exit\)/);
    browser ??= await launchBrowser();
    const { page, problems, close } = await openPage(browser, demo.overlayUrl);
    await waitFor(
      () => page.locator('#status').textContent(),
      (text) => text?.startsWith('joined LiveKit room "agents-metrics-demo"') ?? false,
      20_000,
    );
    await waitFor(
      () => page.locator('[data-status="ended"]').count(),
      (n) => n === 1,
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nproblems: ${problems.join('\n')}\ndemo:\n${demo.output()}`);
    });
    assert.equal(await page.locator('[data-field="turns"]').first().textContent(), '2 turns');
    assert.equal(await page.locator('[data-field="agent"]').first().textContent(), 'demo-agent');
    assert.deepEqual(problems, []);
    assert.equal(await demo.exited, 0, demo.output());
    assert.match(demo.output(), /--exit: closing the overlay and \/metrics/);
    assert.doesNotMatch(
      demo.output(),
      /"name":"lk-rtc"/,
      "the SDK's debug log stays out of the table",
    );
    await close();
  });
});
