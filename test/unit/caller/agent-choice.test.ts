import fc from 'fast-check';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Room } from '@livekit/rtc-node';
import { MetricsConfigError, measureHeardLatency } from '../../../src/caller/index.js';
import {
  type AgentCandidate,
  ambiguousAgentMessage,
  chooseAgent,
} from '../../../src/caller/agent-choice.js';

const p = (identity: string, isAgent: boolean, publishesAudio = true): AgentCandidate => ({
  identity,
  isAgent,
  publishesAudio,
});

/** Rooms of up to 6 remote participants with distinct identities. */
const rooms = fc.uniqueArray(
  fc.record({
    identity: fc.string({ minLength: 1, maxLength: 8 }),
    isAgent: fc.boolean(),
    publishesAudio: fc.boolean(),
  }),
  { maxLength: 6, selector: (c) => c.identity },
);

describe('chooseAgent (which participant the caller meter measures)', () => {
  it('takes the participant of kind agent that publishes audio over others that do', () => {
    const room = [p('caller-2', false), p('agent', true), p('viewer', true, false)];
    assert.deepEqual(chooseAgent(room), { identity: 'agent', by: 'kind' });
  });

  it('falls back to the only participant that publishes audio: a bot joined with a plain token', () => {
    assert.deepEqual(chooseAgent([p('bot', false), p('viewer', false, false)]), {
      identity: 'bot',
      by: 'only_audio',
    });
    assert.deepEqual(chooseAgent([p('viewer', false, false)]), {}, 'none yet');
  });

  it('chooses none where several could be the agent, and the warning says what to pass', () => {
    const choice = chooseAgent([p('bot-b', false), p('bot-a', false)]);
    assert.deepEqual(choice, { ambiguous: ['bot-a', 'bot-b'], ofKindAgent: false });
    const message = ambiguousAgentMessage(choice as Parameters<typeof ambiguousAgentMessage>[0]);
    assert.match(message, /agentIdentity/);
    assert.match(message, /no participant of kind agent publishes audio, and 2 others do/);
    assert.match(message, /"bot-a", "bot-b"/);
    // of two agents, the one already measured stays; without one, neither
    const agents = [p('a1', true), p('a2', true)];
    assert.deepEqual(chooseAgent(agents, { current: 'a2' }), { identity: 'a2', by: 'kind' });
    assert.deepEqual(chooseAgent(agents), { ambiguous: ['a1', 'a2'], ofKindAgent: true });
  });

  it('with agentIdentity, takes that participant once it publishes audio, and no other', () => {
    const room = [p('agent', true), p('bot', false)];
    assert.deepEqual(chooseAgent(room, { agentIdentity: 'bot' }), {
      identity: 'bot',
      by: 'identity',
    });
    assert.deepEqual(
      chooseAgent([p('agent', true), p('bot', false, false)], { agentIdentity: 'bot' }),
      {},
    );
  });

  it('never picks a participant that publishes no audio; picks the agent-kind one when it is the only one; ambiguous means none', () => {
    fc.assert(
      fc.property(
        rooms,
        fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
        fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
        (room, agentIdentity, current) => {
          const choice = chooseAgent(room, { agentIdentity, current });
          const audio = room.filter((c) => c.publishesAudio);
          if (choice.identity !== undefined) {
            const chosen = room.find((c) => c.identity === choice.identity);
            assert.ok(chosen?.publishesAudio, 'chooses a participant that publishes audio');
            assert.equal(choice.ambiguous, undefined);
            if (agentIdentity !== undefined) assert.equal(choice.identity, agentIdentity);
          }
          if (agentIdentity !== undefined) {
            const named = audio.some((c) => c.identity === agentIdentity);
            assert.equal(choice.identity !== undefined, named);
            return;
          }
          const agents = audio.filter((c) => c.isAgent);
          if (agents.length === 1) assert.equal(choice.identity, agents[0]!.identity);
          if (agents.length > 1 && !agents.some((c) => c.identity === current)) {
            assert.deepEqual(choice.ambiguous, agents.map((c) => c.identity).sort());
          }
          if (agents.length === 0) {
            if (audio.length === 1) assert.equal(choice.identity, audio[0]!.identity);
            if (audio.length > 1) {
              assert.equal(choice.identity, undefined);
              assert.deepEqual(choice.ambiguous, audio.map((c) => c.identity).sort());
            }
            if (audio.length === 0) assert.deepEqual(choice, {});
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses an empty agentIdentity and a logger without warn, as configuration errors', () => {
    const room = { on: () => room, off: () => room, remoteParticipants: new Map() };
    for (const options of [
      { agentIdentity: '' },
      { agentIdentity: 7 },
      { logger: {} },
      { logger: null },
    ]) {
      assert.throws(
        () => measureHeardLatency(room as unknown as Room, options as never),
        (e: unknown) => e instanceof MetricsConfigError && /agentIdentity|logger/.test(e.message),
        JSON.stringify(options),
      );
    }
  });
});
