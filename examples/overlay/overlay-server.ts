/**
 * Serves the demo's overlay page on the loopback: the page, its bundle (built from
 * overlay.page.ts with esbuild at start), the page's config, and in local mode the event stream
 * of the LoopbackRoom.
 */
import { build } from 'esbuild';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LoopbackRoom } from './loopback-room.js';

export interface OverlayServerOptions {
  port: number;
  /** Local mode: the room the demo publishes into. */
  loopback?: LoopbackRoom;
  /** LiveKit mode: where the page connects, and a function minting a viewer token. */
  livekit?: { url: string; room: string; token: () => Promise<string> };
  roomName: string;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>livekit-agents-metrics overlay demo</title>
<style>
  body { margin: 0; padding: 24px; background: #0f172a; color: #e2e8f0;
         font: 14px/1.4 system-ui, sans-serif; }
  h1 { font-size: 18px; margin: 0 0 4px; }
  #status { color: #94a3b8; margin: 0 0 16px; }
  #overlay { max-width: 560px; }
</style>
</head>
<body>
<h1>livekit-agents-metrics: in-room overlay</h1>
<p id="status">connecting…</p>
<div id="overlay"></div>
<script type="module" src="/overlay.js"></script>
</body>
</html>`;

export async function startOverlayServer(options: OverlayServerOptions) {
  const bundled = await build({
    entryPoints: [fileURLToPath(new URL('./overlay.page.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    logLevel: 'silent',
  });
  const script = bundled.outputFiles[0]!.text;

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const send = (type: string, body: string) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/') return send('text/html; charset=utf-8', PAGE);
    if (path === '/overlay.js') return send('text/javascript; charset=utf-8', script);
    if (path === '/config') {
      if (!options.livekit) {
        return send('application/json', JSON.stringify({ mode: 'local', room: options.roomName }));
      }
      const { url, room, token } = options.livekit;
      token().then(
        (t) => send('application/json', JSON.stringify({ mode: 'livekit', url, room, token: t })),
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (path === '/events' && options.loopback) return options.loopback.handleEvents(req, res);
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => {
      options.loopback?.close();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
