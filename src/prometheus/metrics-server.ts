/**
 * `startMetricsServer`: serves the runtime's series (and, through the hub, every job process's)
 * at `/metrics` for Prometheus.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
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
import { SharedRender } from './shared-render.js';
import {
  type MetricsAuth,
  type MetricsServerOptions,
  type ResolvedServerOptions,
  type ServerLimits,
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

/** Why the server closed a connection unserved: the `reason` of scrape_refused. */
type RefusalReason = 'connections' | 'timeout';

/** What one scrape renders: the local series and the hub's, merged only when both have data. */
function scrapeStateSource(local: ProcessExporter, hubNow: () => HubServer | undefined) {
  let renderErrors = 0;
  let peakSeen = 0;
  // every reason from 0, so a rate() over them works from the first scrape
  const scrapeRefused = new Map<RefusalReason, number>([
    ['connections', 0],
    ['timeout', 0],
  ]);
  return {
    renderFailed: () => (renderErrors += 1),
    refused: (reason: RefusalReason) =>
      scrapeRefused.set(reason, (scrapeRefused.get(reason) ?? 0) + 1),
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
      return { store, activeSessions: active, peakSessions: peakSeen, renderErrors, scrapeRefused };
    },
  };
}

type Rendered = [body: string, contentType: string];

/** The endpoint's body and content type: the plugin's families, then the user's registry's. */
async function render(o: ResolvedServerOptions, state: ExpositionState): Promise<Rendered> {
  const registry = o.registry!;
  const openMetrics = registry.contentType.includes('openmetrics');
  const own = renderExposition(state, openMetrics);
  const theirs = await registry.metrics();
  // One `# EOF` ends an OpenMetrics exposition: the user's registry writes it.
  const body = openMetrics ? own.replace(/# EOF\n$/, '') + theirs : own + theirs;
  return [body, registry.contentType];
}

/** The render a scrape is answered with, shared with the scrapes around it (one per format). */
function sharedRenderer(o: ResolvedServerOptions, source: ReturnType<typeof scrapeStateSource>) {
  const shared = new SharedRender<Rendered>(o.limits.renderReuseMs);
  return (accept: string | undefined): Promise<Rendered> => {
    if (o.registry) return shared.get('registry', async () => render(o, source.state()));
    const openMetrics = wantsOpenMetrics(accept);
    return shared.get(openMetrics ? 'openmetrics' : 'text', async () => [
      renderExposition(source.state(), openMetrics),
      openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE,
    ]);
  };
}

function requestHandler(o: ResolvedServerOptions, source: ReturnType<typeof scrapeStateSource>) {
  const rendered = sharedRenderer(o, source);
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
      const [body, contentType] = await rendered(req.headers.accept);
      res
        .writeHead(200, { 'content-type': contentType })
        .end(req.method === 'HEAD' ? undefined : body);
    } catch {
      source.renderFailed();
      res.writeHead(500, { 'content-type': 'text/plain' }).end('failed to render metrics\n');
    }
  };
}

const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';

/**
 * The HTTP server with its limits at the network edge: connections over the cap closed at once,
 * requests that do not arrive in time and idle kept-alive connections closed, each refusal
 * counted. Without them, ~20k half-open connections exhausted the worker's file descriptors
 * (it could no longer fork job processes).
 */
function limitedServer(
  limits: ServerLimits,
  refused: (reason: RefusalReason) => void,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Server {
  const server = createServer(
    {
      // Node checks both only every connectionsCheckingInterval (30 s by default)
      headersTimeout: limits.requestTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(limits.requestTimeoutMs / 10)),
      keepAliveTimeout: limits.keepAliveTimeoutMs,
    },
    (req, res) => {
      handle(req, res).catch(() => res.destroy());
    },
  );
  // Node closes a connection over the cap as it accepts it, and tells 'drop'.
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => refused('connections'));
  // Node's own answer to a client error (https://nodejs.org/api/http.html#event-clienterror),
  // with the timeouts counted.
  server.on(
    'clientError',
    (error: NodeJS.ErrnoException, socket: Duplex & { bytesWritten?: number }) => {
      const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (timedOut) refused('timeout');
      if (error.code !== 'ECONNRESET' && socket.writable && socket.bytesWritten === 0) {
        socket.write(timedOut ? REQUEST_TIMEOUT : BAD_REQUEST);
      }
      socket.destroy();
    },
  );
  return server;
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
  const server = limitedServer(o.limits, source.refused, requestHandler(o, source));
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
      const serverClosed = new Promise<void>((ok) => server.close(() => ok()));
      // every connection, including one a slow client holds: close() would wait for its timeout
      server.closeAllConnections();
      await serverClosed;
      await hub?.close();
    },
  };
}
