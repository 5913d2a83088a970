// Quick start: npx tsx examples/quickstart.ts (no LiveKit server or provider keys; exits when done)
import { initializeLogger, llm, voice } from '@livekit/agents';
import { attachMetrics, startMetricsServer } from 'livekit-agents-metrics';

// cli.runApp sets up the framework's logger in a worker; a plain script does it itself.
initializeLogger({ pretty: false, level: 'error' });

// One /metrics per process. In a worker: in its main process, before cli.runApp (port 9464).
const server = await startMetricsServer({ port: 0, host: '127.0.0.1' });

// The framework's FakeLLM answers these inputs after these delays (ms), so this runs anywhere.
// In a worker, the session is built in the agent's entry with real providers, e.g.
//   new voice.AgentSession({ stt: 'assemblyai/universal-streaming:en',
//     llm: 'openai/gpt-4.1-mini', tts: 'cartesia/sonic-2:<voice id>' })
// and started with { agent, room: ctx.room }: see examples/agent.ts.
const fakeLLM = new voice.testing.FakeLLM([
  { input: 'Hi!', content: 'Hello! How can I help?', ttft: 250, duration: 500 },
  { input: 'Weather in Paris?', toolCalls: [{ name: 'getWeather', args: {} }], ttft: 400 },
  // the reply to the tool's output (JSON-encoded)
  { input: '"sunny"', content: 'It is sunny in Paris.', ttft: 300, duration: 450 },
  { input: 'Thanks', content: 'You are welcome!', ttft: 150, duration: 300 },
]);
const session = new voice.AgentSession({ llm: fakeLLM });

// The one line: every turn's latencies, error rates and alerts (add `room: ctx.room` in a job
// to show them to the room's participants).
const metrics = attachMetrics(session, { labels: { agent_name: 'quickstart' } });
metrics.on('turn', (turn) => console.log(`turn ${turn.id}: e2e ${turn.e2eLatencyMs} ms`));

const agent = new voice.Agent({
  instructions: 'You are a helpful assistant.',
  tools: {
    getWeather: llm.tool({
      description: 'The weather in Paris',
      execute: async () => {
        await new Promise((resolve) => setTimeout(resolve, 120));
        return 'sunny';
      },
    }),
  },
});
await session.start({ agent });
for (const userInput of ['Hi!', 'Weather in Paris?', 'Thanks']) {
  await session.run({ userInput }).wait();
}

console.log('stats("ttft"):', metrics.stats('ttft'));
console.log('errorRate("llm"):', metrics.errorRate('llm'), '%');
const { turns, stats, components, bottleneck } = metrics.summary();
console.log('summary():', {
  turns,
  e2e_latency: stats.e2e_latency,
  llm: components.llm,
  bottleneck,
});

const scrape = await (await fetch(server.url)).text();
console.log(`GET ${server.url}:`);
console.log(
  scrape
    .split('\n')
    .filter((line) => /^lk_agents_(llm_ttft_seconds_(sum|count)|requests_total)/.test(line))
    .join('\n'),
);

await session.close();
await metrics.close();
await server.close();
