/**
 * Heard latency in a browser: headless Chromium joins a real LiveKit room as the caller with
 * livekit-client, its microphone fed from a speech file by Chromium's fake capture device (the
 * file loops: one utterance, then silence for the answer), and talks to the real agent worker of
 * test/fixtures/livekit-agent.ts. The page (test/fixtures/heard-page/caller.page.ts) runs the
 * overlay's `measureHeardLatency` and its own ground-truth recorder on the same two tracks; every
 * report must be within ±60 ms of the recorder's measurement of its turn.
 *
 * Then the cost: the CPU time of Chromium's renderer process (where the page and its AudioWorklets
 * run) over alternating stretches of the call with the measurement running and stopped.
 *
 * Logs and numbers are left in test-artifacts/heard-latency-browser/.
 */
import { dispose } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AccessToken } from 'livekit-server-sdk';
import type { Browser } from 'playwright-core';
import type { HeardLatencyReport } from '../../src/caller/heard-report.js';
import { AgentWorker } from '../support/agent-worker.js';
import {
  type OpenedPage,
  type PageServer,
  launchBrowser,
  openPage,
  servePage,
  waitFor,
} from '../support/browser.js';
import {
  type LiveKitServer,
  artifactsDir,
  ensureLiveKitServer,
  startLiveKitServer,
} from '../support/livekit-server.js';
import { speak } from '../support/speech.js';
import { tearDown } from '../support/teardown.js';

const PAGE = fileURLToPath(new URL('../fixtures/heard-page/caller.page.ts', import.meta.url));
const TURNS = 4;
const TOLERANCE_MS = 60;
const CPU_WINDOW_MS = 4_000;
const CPU_ROUNDS = 10;
const CPU_SETTLE_MS = 1_000;
/** An unknown switch Chromium ignores, to find its browser process among the machine's. */
const MARKER = `--lkam-heard-test=${randomBytes(4).toString('hex')}`;

const artifacts = artifactsDir('heard-latency-browser');
const t0 = Date.now();
const timeline: string[] = [];
const mark = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(2)} s  ${what}`);

let server: LiveKitServer | undefined;
let worker: AgentWorker | undefined;
let browser: Browser | undefined;
let pages: PageServer | undefined;
let page: OpenedPage | undefined;

interface PageState {
  connected: boolean;
  errors: string[];
  sampleRate: number;
  outputLatency: number;
  baseLatency: number;
  reports: HeardLatencyReport[];
  reportFrames: number[];
  mic: Array<[number, number]>;
  agent: Array<[number, number]>;
  measuring: boolean;
}

const read = () => page!.page.evaluate(() => (globalThis as any).__heard as PageState);

before(
  async () => {
    mkdirSync(artifacts, { recursive: true });
    await ensureLiveKitServer();
    const speech = await speak('Hello can you hear me');
    // one utterance, then 6 s of quiet for the answer; Chromium loops the file
    const wav = join(artifacts, 'caller.wav');
    await promisify(execFile)('sox', [speech.wavPath, wav, 'pad', '0.5', '6']);
    [browser, pages, server] = await Promise.all([
      launchBrowser([
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-audio-capture=${wav}`,
        '--autoplay-policy=no-user-gesture-required',
        MARKER,
      ]),
      servePage({ entry: PAGE }),
      startLiveKitServer({ logDir: artifacts }),
    ]);
    worker = AgentWorker.start(server, join(artifacts, 'agent-worker.log'));
    await worker.registered(60_000);
    await worker.event('prewarmed', 60_000);
    mark('server, worker and Chromium ready');
  },
  { timeout: 16 * 60_000 },
);

after(async () => {
  const steps: Array<[string, () => Promise<unknown>]> = [
    ['page closed', async () => page?.close()],
    ['job ended', async () => worker?.running && worker.event('job-ended', 10_000)],
    ['browser closed', async () => browser?.close()],
    ['page server stopped', async () => pages?.close()],
    ['worker stopped', async () => worker?.stop()],
    ['server stopped', async () => server?.stop()],
    ['rtc disposed', async () => dispose()],
  ];
  await tearDown(steps, mark);
  writeFileSync(join(artifacts, 'timeline.txt'), timeline.join('\n') + '\n');
  console.log(`browser heard-latency timeline:\n  ${timeline.join('\n  ')}`);
});

function readCmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Pids of `root` and all its descendants. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** CPU time (user + system, ms) of the processes whose command line includes `type`. */
function cpuMs(pids: number[], type: string): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(type)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited meanwhile
    }
  }
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

describe('heard latency in a browser caller', () => {
  it(
    `reports each turn within ±${TOLERANCE_MS} ms of the page's own recording`,
    { timeout: 120_000 },
    async () => {
      const roomName = `heard-browser-${randomBytes(4).toString('hex')}`;
      const token = new AccessToken(server!.apiKey, server!.apiSecret, {
        identity: 'browser-caller',
        ttl: '10m',
      });
      token.addGrant({ room: roomName, roomJoin: true, canPublish: true, canSubscribe: true });
      const hash = new URLSearchParams({ url: server!.url, token: await token.toJwt() });
      page = await openPage(browser!, `${pages!.url}#${hash}`);
      const connected = await waitFor(read, (s) => s.connected || s.errors.length > 0, 30_000);
      assert.deepEqual(connected.errors, [], 'the page joined');
      await worker!.event('job-started', 30_000);
      mark(`the browser caller joined ${roomName}; the agent is in`);

      // the recorder posts a sound run when it ends: wait until the last report's onset is in
      const onsetIn = (s: PageState, i: number) =>
        s.agent.some(([on]) => on <= s.reportFrames[i]! && s.reportFrames[i]! - on < s.sampleRate);
      const state = await waitFor(
        read,
        (s) => s.errors.length > 0 || (s.reports.length >= TURNS && onsetIn(s, TURNS - 1)),
        90_000,
      );
      assert.deepEqual(state.errors, []);
      const rate = state.sampleRate;
      const ms = (frames: number) => (frames / rate) * 1000;
      const rows = state.reports.slice(0, TURNS).map((r, i) => {
        // the ground truth of the turn this report closed: the last agent onset before the report,
        // and the end of the caller's last sound before that onset
        const reportedAt = state.reportFrames[i]!;
        const onset = state.agent.filter(([on]) => on <= reportedAt).at(-1);
        const speech = onset && state.mic.filter(([, last]) => last < onset[0]).at(-1);
        const truth = onset && speech ? ms(onset[0] - speech[1]) : undefined;
        const measured = r.heardLatencyMs - (r.outputLatencyMs ?? 0);
        return { r, truth, measured };
      });
      const lines = rows.map(
        ({ r, truth, measured }, i) =>
          `turn ${i + 1}: heard ${r.heardLatencyMs.toFixed(1)} ms (of it output latency ` +
          `${r.outputLatencyMs ?? 0} ms), without it ${measured.toFixed(1)} ms; recorder ` +
          `${truth?.toFixed(1)} ms (${truth === undefined ? '-' : (measured - truth).toFixed(1)}); ` +
          `clock offset ${r.clockOffsetMs ?? '-'} ms, rtt ${r.clockRttMs ?? '-'} ms`,
      );
      for (const line of lines) mark(line);
      mark(
        `AudioContext: ${rate} Hz, outputLatency ${(state.outputLatency * 1000).toFixed(1)} ms, ` +
          `baseLatency ${(state.baseLatency * 1000).toFixed(1)} ms`,
      );
      writeFileSync(join(artifacts, 'turns.txt'), lines.join('\n') + '\n');
      const received = worker!.events.filter((e) => e.type === 'heard');
      assert.ok(received.length >= TURNS, `the agent got ${received.length} reports`);
      for (const [i, { truth, measured }] of rows.entries()) {
        assert.ok(truth !== undefined, `turn ${i + 1}: the recorder saw the turn`);
        assert.ok(
          Math.abs(measured - truth) <= TOLERANCE_MS,
          `turn ${i + 1}: measured ${measured.toFixed(1)} ms, the recording says ${truth.toFixed(1)}`,
        );
      }
    },
  );

  // The running cost, against issue 10's 1 % of a core: ten pairs of 4 s windows, each a second
  // after the start or stop. Over ten runs it averaged 0.40 % (−0.63 to 1.00 %); one run's noise
  // is about ±0.5 % (the call's own load), so a run is held to 2 % (docs/HEARD-LATENCY.md).
  it(
    'costs at most 2 % of a core while the call runs (0.4 % on average)',
    { timeout: 180_000 },
    async () => {
      assert.ok(page, 'the call ran');
      const root = Number(
        readdirSync('/proc').find(
          (pid) =>
            /^\d+$/.test(pid) &&
            readCmdline(pid).includes(MARKER) &&
            !readCmdline(pid).includes('--type='),
        ),
      );
      assert.ok(root > 0, "Chromium's browser process");
      const sample = async (
        ms = CPU_WINDOW_MS,
        during: () => Promise<unknown> = async () => {},
      ) => {
        const pids = processTree(root);
        const before = cpuMs(pids, '--type=renderer');
        await during();
        await new Promise((r) => setTimeout(r, ms));
        return cpuMs(pids, '--type=renderer') - before;
      };
      // Windows without and with the measurement alternate, so the call's own load (the agent
      // answering the looping fake microphone, WebRTC decoding) falls on both sides alike.
      await page.page.evaluate(() => (globalThis as any).__stopMeasuring());
      let withMeter = 0;
      let without = 0;
      // Each start loads the worklet anew and builds its graph, each stop tears it down, which a
      // page does once per call: the running cost is measured from a second after, and the start
      // (the second that follows it, against the second after a stop) is reported apart.
      const start = () => page!.page.evaluate(() => (globalThis as any).__startMeasuring());
      const stop = () => page!.page.evaluate(() => (globalThis as any).__stopMeasuring());
      const rounds: string[] = [];
      let starting = 0;
      let stopping = 0;
      // off-on, then on-off (ABBA): a call whose load drifts weighs on both sides alike
      for (let round = 0; round < CPU_ROUNDS; round++) {
        const offFirst = round % 2 === 0;
        const off = offFirst ? await sample() : 0;
        starting += await sample(CPU_SETTLE_MS, start);
        const on = await sample();
        stopping += await sample(CPU_SETTLE_MS, stop);
        const offAfter = offFirst ? off : await sample();
        without += offAfter;
        withMeter += on;
        rounds.push(`${on}/${offAfter}`);
      }
      mark(
        `a start costs ${((starting - stopping) / CPU_ROUNDS).toFixed(0)} ms of renderer CPU more ` +
          `than a stop, in the second it takes (${starting} and ${stopping} ms over ${CPU_ROUNDS})`,
      );
      const percent = ((withMeter - without) / (CPU_ROUNDS * CPU_WINDOW_MS)) * 100;
      mark(
        `renderer CPU over ${CPU_ROUNDS} × ${CPU_WINDOW_MS / 1000} s each: ${withMeter} ms ` +
          `measuring, ${without} ms not (per round ${rounds.join(' ')}): the measurement costs ` +
          `${percent.toFixed(2)} % of a core`,
      );
      assert.ok(percent <= 2, `the measurement costs ${percent.toFixed(2)} % of a core`);
    },
  );
});
