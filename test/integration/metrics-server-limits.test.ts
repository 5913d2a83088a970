/**
 * /metrics at the network edge, on loopback: the connection cap (over it a connection is closed
 * at once and counted), the request and keep-alive timeouts that free the connections slow or
 * silent clients hold, and one render shared by concurrent scrapes.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { type Socket, connect } from 'node:net';
import { describe, it } from 'node:test';
import { createMetricsRuntime, startMetricsServer } from '../../src/index.js';
import type { MetricsServer, MetricsServerOptions } from '../../src/index.js';
import { parseExposition } from '../support/exposition-parser.js';

const REFUSED = 'lk_agents_plugin_scrape_refused_total';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(options: MetricsServerOptions): Promise<MetricsServer> {
  return startMetricsServer({
    port: 0,
    host: '127.0.0.1',
    hub: false,
    runtime: createMetricsRuntime({ hub: false }),
    ...options,
  });
}

interface Scrape {
  status: number;
  body: string;
  contentType: string;
}

/** One GET on its own connection (or the agent's); rejects when the connection is refused. */
function scrape(url: string, init: { agent?: Agent; accept?: string } = {}): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent: init.agent ?? false, headers: init.accept ? { accept: init.accept } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body, contentType: res.headers['content-type']! }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('scrape timed out')));
    req.end();
  });
}

/** A raw connection: when it connected, what it received, and when the server closed it. */
class RawClient {
  received = '';
  closedAt: number | undefined;
  readonly connectedAt: Promise<number>;
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (this.received += chunk));
    socket.on('error', () => {}); // a reset is one way to be refused
    this.connectedAt = new Promise((resolve) =>
      socket.once('connect', () => resolve(performance.now())),
    );
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = performance.now();
        resolve();
      }),
    );
  }

  static async open(port: number): Promise<RawClient> {
    const client = new RawClient(connect(port, '127.0.0.1'));
    await Promise.race([client.connectedAt, client.closed]);
    return client;
  }

  /** Whether the server closed it within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    const result = await Promise.race([this.closed.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return result;
  }
}

function refusedCount(body: string, reason: string): number | undefined {
  return parseExposition(body).find((s) => s.name === REFUSED && s.labels.reason === reason)?.value;
}

/** Scrapes until one is served (the server may not have seen the last close yet). */
async function scrapeServed(url: string): Promise<{ result: Scrape; refusedBefore: number }> {
  const deadline = Date.now() + 10_000;
  let refusedBefore = 0;
  for (;;) {
    try {
      return { result: await scrape(url), refusedBefore };
    } catch (error) {
      if (Date.now() > deadline) throw error;
      refusedBefore += 1;
      await sleep(50);
    }
  }
}

describe('/metrics connection cap', () => {
  it('closes connections over the default cap of 64 at once, counts them, and serves again once they close', async () => {
    // A long request timeout: the held connections must outlast the test on a loaded machine.
    const server = await start({ requestTimeoutMs: 60_000, renderReuseMs: 0 });
    const held: RawClient[] = [];
    const extra: RawClient[] = [];
    try {
      for (let i = 0; i < 64; i++) held.push(await RawClient.open(server.port));
      for (let i = 0; i < 16; i++) extra.push(await RawClient.open(server.port));
      const closed = await Promise.all(extra.map((c) => c.closedWithin(5_000)));
      assert.deepEqual(
        closed.map((c, i) => (c ? null : i)).filter((i) => i !== null),
        [],
        'every connection over the cap is closed',
      );
      const latencies = await Promise.all(
        extra.map(async (c) => c.closedAt! - (await c.connectedAt)),
      );
      latencies.sort((a, b) => a - b);
      console.log(
        `16 connections over the cap closed after median ${latencies[8]!.toFixed(1)} ms, ` +
          `slowest ${latencies[15]!.toFixed(1)} ms`,
      );
      // at once: milliseconds on a quiet machine; generous for a loaded one
      assert.ok(latencies[15]! < 2_000, `slowest refusal took ${latencies[15]} ms`);
      for (const c of extra) assert.equal(c.received, '', 'nothing is served over the cap');
      assert.ok(
        held.every((c) => c.closedAt === undefined),
        'the 64 connections within the cap are still open',
      );
      await assert.rejects(scrape(server.url), 'a scrape over the cap is refused too');
      for (const c of held) c.socket.destroy();
      const { result, refusedBefore } = await scrapeServed(server.url);
      assert.equal(result.status, 200);
      assert.equal(refusedCount(result.body, 'connections'), 16 + 1 + refusedBefore);
      assert.equal(refusedCount(result.body, 'timeout'), 0, 'every reason is exposed from 0');
    } finally {
      for (const c of [...held, ...extra]) c.socket.destroy();
      await server.close();
    }
  });

  it('holds at most maxConnections sockets open under a flood of 1,000 silent connections', async () => {
    const server = await start({ maxConnections: 8, requestTimeoutMs: 60_000 });
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 1_000; i++) clients.push(await RawClient.open(server.port));
      const deadline = Date.now() + 10_000;
      const open = () => clients.filter((c) => c.closedAt === undefined).length;
      while (open() > 8 && Date.now() < deadline) await sleep(20);
      assert.equal(open(), 8, 'the server closed every connection over its cap');
    } finally {
      for (const c of clients) c.socket.destroy();
      await server.close();
    }
  });
});

describe('/metrics timeouts', () => {
  it('closes connections whose request does not arrive in time, counts them, and then serves a scrape', async () => {
    const server = await start({ maxConnections: 4, requestTimeoutMs: 300, renderReuseMs: 0 });
    const slow: RawClient[] = [];
    let drip: NodeJS.Timeout | undefined;
    try {
      slow.push(await RawClient.open(server.port)); // connects and says nothing
      slow.push(await RawClient.open(server.port));
      const partial = await RawClient.open(server.port); // a request line, no end of headers
      partial.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
      const dripping = await RawClient.open(server.port); // a header byte every 50 ms
      dripping.socket.write('GET /metrics HTTP/1.1\r\nX-Slow: ');
      drip = setInterval(() => dripping.socket.writable && dripping.socket.write('a'), 50);
      slow.push(partial, dripping);
      await assert.rejects(scrape(server.url), 'the slow clients hold every connection');
      const closed = await Promise.all(slow.map((c) => c.closedWithin(10_000)));
      assert.deepEqual(closed, [true, true, true, true], 'the server closed every slow client');
      for (const c of slow) assert.match(c.received, /^(HTTP\/1\.1 408 |$)/);
      const { result } = await scrapeServed(server.url);
      assert.equal(result.status, 200);
      assert.equal(refusedCount(result.body, 'timeout'), 4);
      assert.ok(refusedCount(result.body, 'connections')! >= 1);
    } finally {
      clearInterval(drip);
      for (const c of slow) c.socket.destroy();
      await server.close();
    }
  });

  it('closes a kept-alive connection after keepAliveTimeoutMs idle', async () => {
    const server = await start({ keepAliveTimeoutMs: 200 });
    const client = await RawClient.open(server.port);
    try {
      client.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      const deadline = Date.now() + 10_000;
      while (!client.received.includes('lk_agents_') && Date.now() < deadline) await sleep(10);
      assert.match(client.received, /^HTTP\/1\.1 200 /);
      assert.equal(await client.closedWithin(3_000), true, 'closed after its idle timeout');
    } finally {
      client.socket.destroy();
      await server.close();
    }
  });

  it('closes at once although slow clients hold connections', async () => {
    const server = await start({ requestTimeoutMs: 60_000 });
    const client = await RawClient.open(server.port);
    client.socket.write('GET /metrics HTTP/1.1\r\n');
    const started = performance.now();
    const closing = server.close().then(() => true);
    assert.equal(await Promise.race([closing, sleep(5_000).then(() => false)]), true);
    const ms = performance.now() - started;
    console.log(`close() with a slow client connected took ${ms.toFixed(1)} ms`);
    assert.equal(await client.closedWithin(5_000), true);
  });
});

describe('/metrics renders', () => {
  /** A user registry whose metrics() counts the renders and takes `ms` to answer. */
  function countingRegistry(ms: number, fail = () => false) {
    const registry = {
      calls: 0,
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      async metrics(): Promise<string> {
        registry.calls += 1;
        await sleep(ms);
        if (fail()) throw new Error('registry failed');
        return `my_calls_total ${registry.calls}\n`;
      },
    };
    return registry;
  }

  it('renders once for 20 concurrent scrapes (a render in flight is shared)', async () => {
    const registry = countingRegistry(100);
    const server = await start({ registry, renderReuseMs: 0 });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => scrape(server.url)));
      assert.equal(registry.calls, 1, `${registry.calls} renders for 20 concurrent scrapes`);
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.match(r.body, /^my_calls_total 1$/m);
        assert.match(r.body, /^# TYPE lk_agents_requests_total counter$/m);
      }
      // with renderReuseMs 0, a scrape after the render ended renders anew
      assert.match((await scrape(server.url)).body, /^my_calls_total 2$/m);
    } finally {
      await server.close();
    }
  });

  it('reuses a render for at most renderReuseMs, and never a failed one', async () => {
    let failing = true;
    const registry = countingRegistry(0, () => failing);
    const server = await start({ registry, renderReuseMs: 300 });
    try {
      assert.equal((await scrape(server.url)).status, 500);
      failing = false;
      const first = await scrape(server.url);
      assert.equal(first.status, 200, 'the failed render was not reused');
      assert.equal(registry.calls, 2);
      await sleep(400); // past the bound: renders anew
      assert.match((await scrape(server.url)).body, /^my_calls_total 3$/m);
    } finally {
      await server.close();
    }
  });

  it('keeps one render per format: OpenMetrics right after the text format is OpenMetrics', async () => {
    const server = await start({ renderReuseMs: 10_000 });
    try {
      const text = await scrape(server.url);
      const om = await scrape(server.url, {
        accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5',
      });
      assert.match(text.contentType, /^text\/plain/);
      assert.match(om.contentType, /^application\/openmetrics-text/);
      assert.ok(om.body.endsWith('# EOF\n'));
      assert.ok(!text.body.includes('# EOF'));
    } finally {
      await server.close();
    }
  });

  it('renders at most once a second by default while 50 keep-alive scrapers scrape in a loop', async () => {
    const registry = countingRegistry(0);
    const server = await start({ registry });
    const agents = Array.from({ length: 50 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      let served = 0;
      const until = performance.now() + 1_500;
      await Promise.all(
        agents.map(async (agent) => {
          while (performance.now() < until) {
            const r = await scrape(server.url, { agent });
            assert.equal(r.status, 200);
            served += 1;
          }
        }),
      );
      console.log(`${served} scrapes by 50 scrapers in 1.5 s: ${registry.calls} renders`);
      assert.ok(served >= 50, `${served} scrapes served`);
      // renders begin at least 1 s apart: at most 2 in 1.5 s (3 with room for a slow start)
      assert.ok(registry.calls <= 3, `${registry.calls} renders`);
    } finally {
      for (const agent of agents) agent.destroy();
      await server.close();
    }
  });
});
