import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { resolveAlertRules } from '../alerts/rules.js';
import { MetricsConfigError } from '../errors.js';
import type { AlertRules } from '../types.js';
import { type ExpositionState, createExpositionRegistry, wantsOpenMetrics } from './exposition.js';
import { HubServer } from './hub/hub-server.js';
import { HUB_ENV } from './hub/protocol.js';
import { type BucketLayout, DEFAULT_BUCKETS } from './metric-families.js';
import { serveFromThisProcess } from './process-exporter.js';
import { SeriesStore } from './series-store.js';

export type MetricsAuth = { bearerToken: string } | { username: string; password: string };

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** TCP port; `0` picks a free one. Default: `9464`. */
  port?: number;
  /** Interface to bind. Default: `'0.0.0.0'` (all IPv4 interfaces, as Prometheus scrapes pods). */
  host?: string;
  /** Path of the endpoint. Default: `'/metrics'`. */
  path?: string;
  /** Require `Authorization: Bearer <token>` or HTTP basic auth. Default: none. */
  auth?: MetricsAuth;
  /** Also register the plugin's metrics into this registry and serve it (in its content type),
   * alongside your own metrics. Default: private registries, one per content type. */
  registry?: Registry;
  /** Histogram boundaries; latency in seconds. Default: DEFAULT_BUCKETS. Every process of the
   * worker uses the same layout (job processes receive it from this process). */
  buckets?: Partial<BucketLayout>;
  /** Alert rules whose thresholds are added as bucket boundaries (the spec's defaults always
   * are), so a rule on a threshold reads a boundary. Default: the defaults. */
  alerts?: AlertRules;
  /** Accept job processes' samples (the worker hub). Default: `true`. */
  hub?: boolean;
  /** How often job processes deliver their samples, in ms. Default: `1000`. */
  flushMs?: number;
}

export interface MetricsServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

interface Resolved {
  port: number;
  host: string;
  path: string;
  auth?: MetricsAuth;
  layout: BucketLayout;
  hub: boolean;
  flushMs: number;
}

function resolve(o: MetricsServerOptions): Resolved {
  const port = o.port ?? 9464;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MetricsConfigError(
      'port',
      `expected an integer from 0 to 65535, got ${String(port)}`,
    );
  }
  const path = o.path ?? '/metrics';
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new MetricsConfigError('path', `expected a path starting with "/", got ${String(path)}`);
  }
  const host = o.host ?? '0.0.0.0';
  if (typeof host !== 'string' || host.length === 0)
    throw new MetricsConfigError('host', 'expected a host name or address');
  if (o.auth !== undefined) {
    const a = o.auth as Record<string, unknown>;
    const bearer = typeof a.bearerToken === 'string' && a.bearerToken.length > 0;
    const basic =
      typeof a.username === 'string' && typeof a.password === 'string' && a.username.length > 0;
    if (!bearer && !basic) {
      throw new MetricsConfigError(
        'auth',
        'expected { bearerToken } or { username, password } with non-empty values',
      );
    }
  }
  const flushMs = o.flushMs ?? 1_000;
  if (!Number.isInteger(flushMs) || flushMs < 10 || flushMs > 60_000) {
    throw new MetricsConfigError(
      'flushMs',
      `expected an integer from 10 to 60000, got ${String(flushMs)}`,
    );
  }
  const thresholdsSeconds = resolveAlertRules(o.alerts)
    .filter((r) => r.metric !== 'error_rate' && r.metric !== 'tokens_per_sec')
    .flatMap((r) => [r.warning / 1000, r.critical / 1000]);
  const layout: BucketLayout = {
    latency: boundaries(
      o.buckets?.latency ?? DEFAULT_BUCKETS.latency,
      'buckets.latency',
      thresholdsSeconds,
    ),
    throughput: boundaries(
      o.buckets?.throughput ?? DEFAULT_BUCKETS.throughput,
      'buckets.throughput',
      [],
    ),
  };
  return { port, host, path, auth: o.auth, layout, hub: o.hub ?? true, flushMs };
}

function boundaries(values: readonly number[], option: string, extra: number[]): number[] {
  if (!Array.isArray(values) || values.length === 0)
    throw new MetricsConfigError(option, 'expected a non-empty array of numbers');
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new MetricsConfigError(option, `expected positive finite numbers, got ${String(v)}`);
    }
  }
  return [...new Set([...values, ...extra])].sort((a, b) => a - b);
}

/**
 * Whether a request carries the configured credentials. Both sides are hashed first, so
 * timingSafeEqual compares equal-length digests: neither the secret's content nor its length
 * shows in how long a refusal takes.
 */
function authorized(req: IncomingMessage, expected: Buffer | undefined): boolean {
  if (!expected) return true;
  return timingSafeEqual(digest(req.headers.authorization ?? ''), expected);
}

/** The digest of the Authorization header that auth accepts. */
function expectedAuthorization(auth: MetricsAuth | undefined): Buffer | undefined {
  if (!auth) return undefined;
  if ('bearerToken' in auth) return digest(`Bearer ${auth.bearerToken}`);
  return digest(`Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Serves `/metrics` for Prometheus from the worker's main process (call it before
 * `cli.runApp`). Job processes the framework forks find it through the environment and deliver
 * their samples to it; sessions attached in this process record directly. Rejects with a
 * MetricsConfigError on bad options or when the port is taken.
 */
export async function startMetricsServer(
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const o = resolve(options);
  let local;
  try {
    local = serveFromThisProcess(o.layout);
  } catch {
    throw new MetricsConfigError(
      'buckets',
      'call startMetricsServer before attaching metrics when you set buckets or alerts',
    );
  }
  const expectedAuth = expectedAuthorization(o.auth);
  let hub: HubServer | undefined;
  try {
    hub = o.hub ? await HubServer.start(o.layout, { flushMs: o.flushMs }) : undefined;
  } catch (error) {
    throw new MetricsConfigError(
      'hub',
      `cannot start the worker hub: ${(error as Error).message}; or set hub: false`,
    );
  }
  let renderErrors = 0;
  let peakSeen = 0;
  const state = (): ExpositionState => {
    // A worker's main process usually runs no session itself: then the hub's totals are the
    // whole answer and are rendered as they are, without a merged copy.
    let store: SeriesStore;
    if (hub && local.store.isEmpty) store = hub.totals;
    else if (!hub || hub.totals.isEmpty) store = local.store;
    else {
      store = new SeriesStore(o.layout);
      store.merge(local.store.snapshot());
      store.merge(hub.totals.snapshot());
    }
    const active = local.activeSessions + (hub?.activeSessions ?? 0);
    peakSeen = Math.max(peakSeen, active, local.peakSessions, hub?.peakSessions ?? 0);
    return { store, activeSessions: active, peakSessions: peakSeen, renderErrors };
  };
  // One state per scrape: every family of a render reads the same merged snapshot.
  let cached: ExpositionState | undefined;
  const scrapeState = () => (cached ??= state());
  const registries = options.registry
    ? {
        text: createExpositionRegistry(
          options.registry.contentType.includes('openmetrics'),
          scrapeState,
          options.registry,
        ),
        openMetrics: undefined,
      }
    : {
        text: createExpositionRegistry(false, scrapeState),
        openMetrics: createExpositionRegistry(true, scrapeState),
      };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== o.path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (!authorized(req, expectedAuth)) {
      const scheme = o.auth && 'bearerToken' in o.auth ? 'Bearer' : 'Basic realm="metrics"';
      res.writeHead(401, { 'www-authenticate': scheme }).end('unauthorized\n');
      return;
    }
    const registry =
      wantsOpenMetrics(req.headers.accept) && registries.openMetrics
        ? registries.openMetrics
        : registries.text;
    try {
      cached = undefined;
      const body = await registry.metrics();
      res
        .writeHead(200, { 'content-type': registry.contentType })
        .end(req.method === 'HEAD' ? undefined : body);
    } catch {
      renderErrors += 1;
      res.writeHead(500, { 'content-type': 'text/plain' }).end('failed to render metrics\n');
    } finally {
      cached = undefined;
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(o.port, o.host, () => {
        server.off('error', fail);
        ok();
      });
    });
  } catch (error) {
    await hub?.close();
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
  if (hub) process.env[HUB_ENV] = JSON.stringify(hub.address);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  const urlHost =
    o.host === '0.0.0.0' || o.host === '::'
      ? '127.0.0.1'
      : o.host.includes(':')
        ? `[${o.host}]`
        : o.host;
  let closed = false;
  return {
    port,
    url: `http://${urlHost}:${port}${o.path}`,
    close: async () => {
      if (closed) return;
      closed = true;
      if (hub && process.env[HUB_ENV] === JSON.stringify(hub.address)) delete process.env[HUB_ENV];
      await new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections?.();
      await hub?.close();
    },
  };
}
