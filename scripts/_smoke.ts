import { voice, llm, initializeLogger } from '@livekit/agents';
import { z } from 'zod';
import { attachMetrics } from '../src/index.js';
initializeLogger({ pretty: false, level: 'warn' });
const fake = new voice.testing.FakeLLM([
  { input: 'hello', content: 'Hi there friend.', ttft: 100, duration: 300 },
  { input: 'weather', content: '', ttft: 50, duration: 80, toolCalls: [{ name: 'getWeather', args: { city: 'Paris' } }] },
  { input: '"sunny"', content: 'It is sunny.', ttft: 60, duration: 120 },
]);
const agent = new voice.Agent({ instructions: 'x', tools: {
  getWeather: llm.tool({ description: 'w', parameters: z.object({ city: z.string() }), execute: async () => { await new Promise(r => setTimeout(r, 200)); return 'sunny'; } }),
}});
const session = new voice.AgentSession({ llm: fake });
const m = attachMetrics(session, { labels: { agent_name: 'x' } });
m.on('turn', (t) => console.log('TURN', JSON.stringify(t)));
await session.start({ agent });
await session.run({ userInput: 'hello' }).wait();
await session.run({ userInput: 'weather' }).wait();
await session.close();
console.log(JSON.stringify(m.summary(), null, 1));
await m.close();
