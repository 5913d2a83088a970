/**
 * `livekit-agents-metrics watch` against a real LiveKit server: an agent participant (a real
 * text-mode AgentSession with attachMetrics publishing into an @livekit/rtc-node Room) and the
 * CLI, run as its own process the way a user runs it, joining as a hidden observer.
 */
import { initializeLogger, voice } from '@livekit/agents';
import { Room, dispose } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attachMetrics } from '../../src/index.js';
import type { MetricsMessage } from '../../src/index.js';
import { type LiveKitServer, startLiveKitServer } from '../support/livekit-server.js';
import { ScriptedLLM } from '../support/scripted-llm.js';
import { sleep } from '../support/session-harness.js';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const ROOM = 'watch-room';

async function agentToken(server: LiveKitServer, identity: string): Promise<string> {
  const token = new AccessToken(server.apiKey, server.apiSecret, { identity });
  token.addGrant({ room: ROOM, roomJoin: true, agent: true, canPublishData: true });
  return token.toJwt();
}

type ApiKeys = { LIVEKIT_API_KEY: string; LIVEKIT_API_SECRET: string };
const keysOf = (server: LiveKitServer): ApiKeys => ({
  LIVEKIT_API_KEY: server.apiKey,
  LIVEKIT_API_SECRET: server.apiSecret,
});
/** `watch`'s arguments for the test room on `server`, then `more`. */
const inRoom = (server: LiveKitServer, ...more: string[]) => [
  '--url',
  server.url,
  '--room',
  ROOM,
  ...more,
];

/**
 * Runs `livekit-agents-metrics watch` in its own process (with `tty`, under a pseudo-terminal from
 * util-linux's script) and collects its output as it comes.
 */
function runWatch(args: string[], keys: ApiKeys, { tty = false } = {}) {
  const node = [process.execPath, '--import', 'tsx', CLI, 'watch', ...args];
  const [command, ...argv] = tty ? ['script', '-qec', node.join(' '), '/dev/null'] : node;
  const proc: ChildProcess = spawn(command!, argv, {
    env: { ...process.env, ...keys, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );
  return {
    proc,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    messages: () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as MetricsMessage & { from: string }),
    async until(what: string, predicate: () => boolean, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) {
          throw new Error(
            `watch: timed out waiting for ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
          );
        }
        await sleep(50);
      }
    },
  };
}

before(() => initializeLogger({ pretty: false, level: 'silent' }));

describe('livekit-agents-metrics watch on a real LiveKit server', () => {
  let server: LiveKitServer;
  const cleanup: Array<() => Promise<unknown>> = [];
  before(async () => {
    server = await startLiveKitServer({ logDir: 'test-artifacts/e2e/watch' });
  });
  after(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
    await server?.stop();
    await dispose(); // the SDK's native side keeps the process alive until disposed
  });

  it('joins hidden, gets the summary at once by asking for it, then prints each turn and summary as they happen', async () => {
    const agentRoom = new Room();
    cleanup.push(() => agentRoom.disconnect());
    await agentRoom.connect(server.url, await agentToken(server, 'agent-under-watch'), {
      autoSubscribe: false,
      dynacast: false,
    });
    const fake = new ScriptedLLM(
      ['one', 'two', 'three'].map((input) => ({
        input,
        content: `answer ${input}`,
        ttft: 120,
        duration: 200,
      })),
      { provider: 'acme', model: 'acme-1' },
    );
    const session = new voice.AgentSession({ llm: fake });
    cleanup.push(() => session.close());
    const metrics = attachMetrics(session, { room: agentRoom, publish: { intervalMs: 300 } });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    await session.run({ userInput: 'one' }).wait();
    await session.run({ userInput: 'two' }).wait();

    // joins after two turns: what it prints first is the answer to its request, the summary and
    // the last turn
    const watch = runWatch(inRoom(server, '--json', '--duration', '30'), keysOf(server));
    cleanup.push(async () => {
      watch.proc.kill('SIGTERM');
      await watch.exited;
    });
    await watch.until('the current summary', () =>
      watch.messages().some((m) => m.type === 'summary' && m.summary.turns === 2),
    );
    const first = watch.messages()[0]!;
    assert.equal(first.from, 'agent-under-watch');
    assert.equal(first.room, ROOM);
    const secondTurnId = metrics.turns().at(-1)!.id;
    await watch.until('the last turn so far', () =>
      watch.messages().some((m) => m.type === 'turn' && m.turn.id === secondTurnId),
    );
    assert.equal(
      [...agentRoom.remoteParticipants.values()].some((p) =>
        p.identity.startsWith('metrics-watch'),
      ),
      false,
      'the observer is hidden from the agent',
    );

    await session.run({ userInput: 'three' }).wait();
    const thirdTurnId = metrics.turns().at(-1)!.id;
    const isThird = (m: MetricsMessage) => m.type === 'turn' && m.turn.id === thirdTurnId;
    await watch.until('the third turn', () => watch.messages().some(isThird));
    const turn = watch.messages().find(isThird)!;
    const llmStage =
      turn.type === 'turn' ? turn.turn.stages.find((s) => s.stage === 'llm') : undefined;
    assert.ok(
      llmStage?.firstOutputMs !== undefined && Math.abs(llmStage.firstOutputMs - 120) <= 60,
    );
    await watch.until('a summary with three turns', () =>
      watch.messages().some((m) => m.type === 'summary' && m.summary.turns === 3),
    );

    // and as a person reads it: the table and the waterfall
    const text = runWatch(inRoom(server, '--duration', '3'), keysOf(server));
    assert.equal(await text.exited, 0, text.stderr());
    assert.match(text.stdout(), /LLM TTFT\s+3\s+1\d\d ms/, text.stdout());
    assert.match(text.stderr(), /watching room "watch-room"/);

    // on a terminal (a pseudo-terminal from util-linux's script), one screen redrawn in place
    // (async: this process runs the agent, which must answer the watcher meanwhile)
    const onTty = runWatch(inRoom(server, '--duration', '3'), keysOf(server), { tty: true });
    const ttyExit = await onTty.exited;
    assert.equal(ttyExit, 0, onTty.stdout() + onTty.stderr());
    assert.ok(onTty.stdout().includes('\x1b[2J\x1b[H'), 'the screen is cleared and redrawn');
    assert.match(onTty.stdout(), /agent-under-watch \(live\)/);
    assert.match(onTty.stdout(), /LLM TTFT\s+3\s+1\d\d ms/);
    assert.match(onTty.stdout(), /last turn \(text\)/);

    await session.close();
    await watch.until('the final summary', () =>
      watch.messages().some((m) => m.type === 'summary' && m.final),
    );
    const final = watch.messages().find((m) => m.type === 'summary' && m.final)!;
    assert.equal(final.type === 'summary' && final.summary.stats.ttft.count, 3);
    assert.deepEqual(
      final.type === 'summary' && final.summary.stats.ttft,
      metrics.summary().stats.ttft,
      'the observer sees the agent numbers unchanged',
    );
  });

  it('says why it could not join, and exits 1, when nothing listens at the URL', async () => {
    const run = runWatch(['--room', ROOM, '--url', 'ws://127.0.0.1:1'], {
      LIVEKIT_API_KEY: 'key',
      LIVEKIT_API_SECRET: 'secret',
    });
    assert.equal(await run.exited, 1);
    assert.match(run.stderr(), /could not join room "watch-room" at "?ws:\/\/127\.0\.0\.1:1/);
  });

  it('says what is missing, and exits 2, when the API key is not set', async () => {
    const run = runWatch(inRoom(server), { LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '' });
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /LIVEKIT_API_KEY and LIVEKIT_API_SECRET/);
  });
});
