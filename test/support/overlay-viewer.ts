/**
 * A viewer in headless Chromium that joins a real LiveKit room with livekit-client and the
 * overlay mounted (test/fixtures/overlay-page/live-room.page.ts), and what the overlay should
 * show for a given summary and turn, formatted as the overlay formats them.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AccessToken } from 'livekit-server-sdk';
import type { Browser, CDPSession } from 'playwright-core';
import { formatMs, formatPercent, formatValue } from '../../src/catalog/format.js';
import { BOTTLENECK_STATS, STAT_NAMES, statDef } from '../../src/catalog/index.js';
import type { MetricsSummary, TurnStage, TurnTimeline } from '../../src/types.js';
import { type OpenedPage, type PageServer, openPage, waitFor } from './browser.js';
import type { LiveKitServer } from './livekit-server.js';

/** The page the viewer opens; serve it with `servePage({ entry: VIEWER_PAGE })`. */
export const VIEWER_PAGE = fileURLToPath(
  new URL('../fixtures/overlay-page/live-room.page.ts', import.meta.url),
);

export class OverlayViewer {
  private constructor(
    readonly opened: OpenedPage,
    /** The page's own DevTools session: it renders at 2 device pixels per CSS pixel. */
    private readonly cdp: CDPSession,
  ) {}

  /** Opens the viewer page and waits until its Room is connected to `roomName`. */
  static async join(
    browser: Browser,
    pages: PageServer,
    server: LiveKitServer,
    roomName: string,
  ): Promise<OverlayViewer> {
    const token = new AccessToken(server.apiKey, server.apiSecret, {
      identity: 'overlay-viewer',
      ttl: '10m',
    });
    token.addGrant({
      room: roomName,
      roomJoin: true,
      canSubscribe: true,
      canPublish: false,
      canPublishData: true, // the overlay asks the agent for its summary over RPC
    });
    // E2E_BROWSER_LOG=debug makes livekit-client's log in the viewer's log verbose
    const log = process.env.E2E_BROWSER_LOG ?? 'info';
    const hash = new URLSearchParams({
      url: server.url,
      token: await token.toJwt(),
      room: roomName,
      log,
    });
    const opened = await openPage(browser, `${pages.url}#${hash}`);
    // a sharp picture: 2 device pixels per CSS pixel (openPage's context has 1)
    const cdp = await opened.context.newCDPSession(opened.page);
    await cdp.send('Emulation.setDeviceMetricsOverride', {
      width: 900,
      height: 520,
      deviceScaleFactor: 2,
      mobile: false,
    });
    const viewer = new OverlayViewer(opened, cdp);
    const { state } = await waitFor(
      () => viewer.read(),
      ({ state }) => state.connected || state.errors.length > 0,
      20_000,
    );
    if (!state.connected) throw new Error(`the viewer did not connect: ${state.errors.join('; ')}`);
    return viewer;
  }

  /** What the page knows (`window.__overlay` but its log) and what its panel shows. */
  read(): Promise<{ state: any; panel: any }> {
    return this.opened.page.evaluate(() => {
      const state = { ...(globalThis as any).__overlay };
      delete state.log;
      return { state, panel: (globalThis as any).__overlayPanel() };
    });
  }

  /** Writes the page's log (livekit-client's and its own notes) and its problems to `path`. */
  async saveLog(path: string): Promise<void> {
    const log: string[] = await this.opened.page.evaluate(() => (globalThis as any).__overlay.log);
    const problems = this.opened.problems.map((p) => `problem: ${p}`);
    writeFileSync(path, [...log, ...problems].join('\n') + '\n');
  }

  leave(): Promise<void> {
    return this.opened.page.evaluate(() => (globalThis as any).__overlayLeave());
  }

  /**
   * Saves a PNG of the page, or of `selector`'s box with a margin, at 2 device pixels per CSS
   * pixel. Through the page's own CDP session: Playwright's screenshot would put back the
   * context's scale of 1.
   */
  async screenshot(path: string, selector?: string): Promise<void> {
    const box = selector ? await this.opened.page.locator(selector).boundingBox() : null;
    const m = 12;
    const clip = box && {
      x: Math.max(0, box.x - m),
      y: Math.max(0, box.y - m),
      width: box.width + 2 * m,
      height: box.height + 2 * m,
      scale: 1,
    };
    const { data } = await this.cdp.send('Page.captureScreenshot', {
      format: 'png',
      ...(clip ? { clip } : {}),
    });
    writeFileSync(path, Buffer.from(data, 'base64'));
  }
}

const STAGE_NAMES: Readonly<Record<TurnStage['stage'], string>> = {
  stt: 'STT',
  end_of_turn: 'end of turn',
  llm: 'LLM',
  function: 'tool',
  tts: 'TTS',
  speech_end_lag: 'end-of-speech lag',
  agent_output: 'agent output',
  uplink: 'uplink',
  downlink: 'downlink',
  network: 'network + playout',
};

/** The table row that stands for each bottleneck component. */
export const BOTTLENECK_ROWS = BOTTLENECK_STATS;

/** The overlay's table for `s`: p50, p90 and error rate of each row (a row per stat of the
 * catalog), formatted as it does. */
export function tableOf(s: MetricsSummary) {
  return Object.fromEntries(
    STAT_NAMES.map((name) => {
      const beside = statDef(name).errorsBeside;
      return [
        name,
        [
          formatValue(name, s.stats[name].p50),
          formatValue(name, s.stats[name].p90),
          beside === undefined ? null : formatPercent(s.components[beside].errorRate),
        ],
      ];
    }),
  );
}

/** The overlay's waterfall of `turn`: its end-to-end latency and a [stage, name, duration] row
 * per stage. */
export const waterfallOf = (turn: TurnTimeline) => ({
  e2e: turn.e2eLatencyMs === undefined ? null : `${formatMs(turn.e2eLatencyMs)} to answer`,
  stages: turn.stages.map((s) => [
    s.stage,
    s.stage === 'function' && s.name ? s.name : STAGE_NAMES[s.stage],
    formatMs(s.durationMs),
  ]),
});
