/**
 * A minimal LiveKit agent with metrics attached. Run it as any agent worker:
 *
 *   LIVEKIT_URL=wss://… LIVEKIT_API_KEY=… LIVEKIT_API_SECRET=… npx tsx examples/agent.ts dev
 *
 * The models are LiveKit Inference model strings; swap in any provider plugin. Prometheus scrapes
 * the worker on :9464/metrics.
 */
import { type JobContext, ServerOptions, cli, defineAgent, voice } from '@livekit/agents';
import { fileURLToPath } from 'node:url';
import { attachMetrics, startMetricsServer } from 'livekit-agents-metrics';

export default defineAgent({
  entry: async (ctx: JobContext) => {
    const session = new voice.AgentSession({
      stt: 'assemblyai/universal-streaming:en',
      llm: 'openai/gpt-4.1-mini',
      tts: 'cartesia/sonic-2:9626c31c-bec5-4cca-baa8-f8ba9e84c8bc',
    });

    // One line: every turn's STT, LLM, tool, TTS and end-to-end latency, error rates, alerts.
    // With `room`, the room's participants get them live over the data channel (the overlay,
    // `npx livekit-agents-metrics watch`).
    const metrics = attachMetrics(session, {
      labels: { agent_name: 'support' },
      alerts: { ttft: { warning: 1500, critical: 3000 } },
      room: ctx.room,
    });
    metrics.on('turn', (turn) => {
      console.log(`turn ${turn.id}: e2e ${turn.e2eLatencyMs?.toFixed(0) ?? '-'} ms`);
    });
    metrics.on('alert', (alert) => {
      console.warn(`${alert.state} ${alert.level}: ${alert.metric} = ${alert.value.toFixed(0)}`);
    });
    ctx.addShutdownCallback(async () => {
      console.log(JSON.stringify(metrics.summary()));
      await metrics.close();
    });

    await session.start({
      agent: new voice.Agent({ instructions: 'You are a helpful voice assistant.' }),
      room: ctx.room,
    });
    await ctx.connect();
  },
});

// One /metrics for the whole worker, in its main process. The job processes the framework forks
// import this file too: they inherit LIVEKIT_AGENTS_METRICS_HUB and deliver to this server.
if (!process.env.LIVEKIT_AGENTS_METRICS_HUB) {
  const server = await startMetricsServer({ port: 9464 });
  console.log(`metrics on ${server.url}`);
}

cli.runApp(new ServerOptions({ agent: fileURLToPath(import.meta.url) }));
