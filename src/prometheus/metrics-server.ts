/**
 * `startMetricsServer`: serves the runtime's series (and, through the hub, every job process's)
 * at `/metrics` for Prometheus.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { MetricsConfigError } from '../errors.js';
import {
  type ExpositionState,
  OPENMETRICS_CONTENT_TYPE,
  TEXT_CONTENT_TYPE,
  renderExposition,
  wantsOpenMetrics,
} from './exposition.js';
import { HubServer } from './hub/hub-server.js';
import { HUB_ENV } from './hub/protocol.js';
import type { ProcessExporter } from './process-exporter.js';
import { SeriesStore } from './series-store.js';
import {
  type MetricsAuth,
  type MetricsServerOptions,
  type ResolvedServerOptions,
  resolveServerOptions,
} from './server-options.js';

export type { MetricsAuth, MetricsRegistry, MetricsServerOptions } from './server-options.js';

export interface MetricsServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares the Authorization header with the expected one in constant time. */
function authorized(req: IncomingMessage, auth: MetricsAuth | undefined): boolean {
  if (!auth) return true;
  const expected =
    'bearerToken' in auth
      ? `Bearer ${auth.bearerToken}`
      : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return timingSafeEqual(digest(req.headers.authorization ?? ''), digest(expected));
}

/** What one scrape renders: the local series and the hub's, merged only when both have data. */
function scrapeStateSource(local: ProcessExporter, hubNow: () => HubServer | undefined) {
  let renderErrors = 0;
  let peakSeen = 0;
  return {
    renderFailed: () => (renderErrors += 1),
    state(): ExpositionState {
      const hub = hubNow();
      hub?.commit(); // what the hub received is in this scrape, and saved first
      // A worker's main process usually runs no session itself: then the hub's totals are the
      // whole answer and are rendered as they are, without a merged copy.
      let store: SeriesStore;
      if (hub && local.store.isEmpty) store = hub.totals;
      else if (!hub || hub.totals.isEmpty) store = local.store;
      else {
        store = new SeriesStore(local.layout);
        store.merge(local.store.snapshot());
        store.merge(hub.totals.snapshot());
      }
      const active = local.activeSessions + (hub?.activeSessions ?? 0);
      peakSeen = Math.max(peakSeen, active, local.peakSessions, hub?.peakSessions ?? 0);
      return { store, activeSessions: active, peakSessions: peakSeen, renderErrors };
    },
  };
}

/** The endpoint's body and content type: the plugin's families, then the user's registry's. */
async function render(
  o: ResolvedServerOptions,
  state: ExpositionState,
  accept: string | undefined,
): Promise<[body: string, contentType: string]> {
  if (o.registry) {
    const openMetrics = o.registry.contentType.includes('openmetrics');
    const own = renderExposition(state, openMetrics);
    const theirs = await o.registry.metrics();
    // One `# EOF` ends an OpenMetrics exposition: the user's registry writes it.
    const body = openMetrics ? own.replace(/# EOF\n$/, '') + theirs : own + theirs;
    return [body, o.registry.contentType];
  }
  const openMetrics = wantsOpenMetrics(accept);
  return [
    renderExposition(state, openMetrics),
    openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE,
  ];
}

function requestHandler(o: ResolvedServerOptions, source: ReturnType<typeof scrapeStateSource>) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== o.path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (!authorized(req, o.auth)) {
      const scheme = o.auth && 'bearerToken' in o.auth ? 'Bearer' : 'Basic realm="metrics"';
      res.writeHead(401, { 'www-authenticate': scheme }).end('unauthorized\n');
      return;
    }
    try {
      const [body, contentType] = await render(o, source.state(), req.headers.accept);
      res
        .writeHead(200, { 'content-type': contentType })
        .end(req.method === 'HEAD' ? undefined : body);
    } catch {
      source.renderFailed();
      res.writeHead(500, { 'content-type': 'text/plain' }).end('failed to render metrics\n');
    }
  };
}

async function listen(server: Server, o: ResolvedServerOptions): Promise<number> {
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(o.port, o.host, () => {
        server.off('error', fail);
        ok();
      });
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new MetricsConfigError(
        'port',
        `port ${o.port} on ${o.host} is already in use; choose another port (or 0 for any free one)`,
      );
    }
    throw new MetricsConfigError(
      'host',
      `cannot listen on ${o.host}:${o.port}: ${(error as Error).message}`,
    );
  }
  const address = server.address();
  return typeof address === 'object' && address ? address.port : o.port;
}

function displayUrl(o: ResolvedServerOptions, port: number): string {
  const host =
    o.host === '0.0.0.0' || o.host === '::'
      ? '127.0.0.1'
      : o.host.includes(':')
        ? `[${o.host}]`
        : o.host;
  return `http://${host}:${port}${o.path}`;
}

/**
 * Serves `/metrics` for Prometheus from the worker's main process (call it before
 * `cli.runApp`). Job processes the framework forks find the hub through the environment and
 * deliver their samples to it; sessions attached to the same runtime here record directly.
 * Rejects with a MetricsConfigError on bad options or when the port is taken.
 */
export async function startMetricsServer(
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const o = resolveServerOptions(options);
  const local = o.runtime.serveHere(o.layout);
  let hub: HubServer | undefined;
  const source = scrapeStateSource(local, () => hub);
  const handle = requestHandler(o, source);
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const port = await listen(server, o);
  try {
    // A fixed port names the worker: its hub's socket keeps one address across restarts of
    // this process, where the job processes forked before the restart look for it.
    const stableName = o.port === 0 ? undefined : `port-${port}`;
    hub = o.hub ? await HubServer.start(o.layout, { flushMs: o.flushMs, stableName }) : undefined;
  } catch (error) {
    await new Promise<void>((ok) => server.close(() => ok()));
    throw new MetricsConfigError(
      'hub',
      `cannot start the worker hub: ${(error as Error).message}; or set hub: false`,
    );
  }
  // The hand-off to job processes: the framework forks them with this process's environment.
  const handOff = hub && JSON.stringify(hub.address);
  if (handOff) process.env[HUB_ENV] = handOff;
  let closed = false;
  return {
    port,
    url: displayUrl(o, port),
    close: async () => {
      if (closed) return;
      closed = true;
      if (handOff && process.env[HUB_ENV] === handOff) delete process.env[HUB_ENV];
      await new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections?.();
      await hub?.close();
    },
  };
}
