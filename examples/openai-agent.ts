// An agent with the real OpenAI plugins (LLM and TTS), its usage and cost per turn:
//   npm run demo:openai
// With OPENAI_API_KEY set it talks to OpenAI; without, to the repository's local
// OpenAI-compatible server (test/support/providers), which bills deterministic usage, so it runs
// anywhere without a key. It exits when done.
import { initializeLogger, voice } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import { type PriceTable, attachMetrics, startMetricsServer } from 'livekit-agents-metrics';
import { RecordingAudioOutput } from '../test/support/audio-io.js';
import { OpenAICompatibleServer } from '../test/support/providers/openai-server.js';

initializeLogger({ pretty: false, level: 'error' });

const apiKey = process.env.OPENAI_API_KEY;
const local = apiKey ? undefined : await OpenAICompatibleServer.start();
if (local) {
  local.chat.setDefault({ text: 'Sure. Here is a short answer for you.', ttftMs: 150 });
  local.speech.setDefault({ firstByteMs: 120 });
}
const connection = local ? { baseURL: local.baseURL, apiKey: 'local' } : { apiKey };
console.log(
  local ? `local OpenAI-compatible server at ${local.baseURL}` : 'OpenAI (OPENAI_API_KEY)',
);

// Illustrative prices only: put your own (the plugin ships none). Per 1M tokens, per 1,000
// characters; matched by the model the framework reports.
const prices: PriceTable = {
  currency: 'USD',
  models: [
    {
      component: 'llm',
      model: 'gpt-4o-mini',
      inputPerMillionTokens: 0.15,
      cachedInputPerMillionTokens: 0.075,
      outputPerMillionTokens: 0.6,
    },
    { component: 'tts', model: 'tts-1', perThousandCharacters: 0.015 },
  ],
};

const server = await startMetricsServer({ port: 0, host: '127.0.0.1' });
const session = new voice.AgentSession({
  llm: new openai.LLM({ ...connection, model: 'gpt-4o-mini' }),
  tts: new openai.TTS({ ...connection, model: 'tts-1' }),
  turnHandling: { turnDetection: null },
});
// No room here: the agent's audio goes to a speaker double that plays it in real time.
const speaker = new RecordingAudioOutput();
session.output.audio = speaker;
const metrics = attachMetrics(session, { labels: { agent_name: 'openai-example' }, prices });
metrics.on('turn', (turn) => {
  const usage = turn.usage?.entries.map((e) => `${e.component} ${JSON.stringify(e.amounts)}`);
  console.log(
    `turn: e2e ${turn.e2eLatencyMs} ms, cost ${turn.usage?.cost} ${turn.usage?.currency}, ${usage?.join(', ')}`,
  );
});

await session.start({ agent: new voice.Agent({ instructions: 'Answer in one short sentence.' }) });
for (const userInput of ['Hi!', 'What can you do?']) await session.run({ userInput }).wait();

const { usage, stats, components } = metrics.summary();
console.log('summary().usage:', JSON.stringify(usage));
console.log('ttft p50:', stats.ttft.p50, 'ms; tts requests:', components.tts.requests);
if (local) {
  const billed = (field: 'promptTokens' | 'completionTokens' | 'characters', kind: string) =>
    local.log.billed(field, kind);
  console.log(
    'local server billed:',
    JSON.stringify({
      promptTokens: billed('promptTokens', 'chat'),
      completionTokens: billed('completionTokens', 'chat'),
      ttsCharacters: billed('characters', 'speech'),
      ttsRequests: local.log.of('speech').length,
    }),
  );
}
const scrape = await (await fetch(server.url)).text();
console.log(`GET ${server.url}:`);
console.log(
  scrape
    .split('\n')
    .filter((line) => /^lk_agents_(llm_usage_tokens|tts_characters|cost)_total/.test(line))
    .join('\n'),
);

await session.close();
speaker.close();
await metrics.close();
await server.close();
await local?.close();
