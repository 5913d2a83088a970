/**
 * Browser tests: Debian's headless Chromium driven by playwright-core, and a loopback HTTP server
 * that serves a page and an esbuild bundle of a TypeScript entry (a `*.page.ts` file, which
 * tsconfig.browser.json typechecks with the DOM). Nothing here reaches past 127.0.0.1: the
 * browser resolves no host name but the loopback and every other request is aborted.
 */
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); `CHROMIUM_PATH` overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--allow-loopback-in-peer-connection',
  // No traffic of the browser's own: updates, sync, safe browsing, crash reports, field trials.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-domain-reliability',
  '--disable-sync',
  '--disable-breakpad',
  '--disable-default-apps',
  '--no-first-run',
  '--no-default-browser-check',
  '--metrics-recording-only',
  '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
  // Every host name but the loopback fails to resolve, so nothing can reach out by name.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

/** Starts headless Chromium; `args` are added to the offline defaults (e.g. fake media flags). */
export function launchBrowser(args: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `no Chromium at ${CHROMIUM_PATH}: run scripts/ensure-system-deps.sh (Debian's chromium) ` +
        'or set CHROMIUM_PATH',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
    timeout: 30_000,
  });
}

export interface BundleOptions {
  /** Replacements, as for esbuild's `define`. `process.env.NODE_ENV` is `"development"` unless
   * given (React reads it). */
  define?: Record<string, string>;
  minify?: boolean;
}

/** An ES module bundle of `entry` (a TypeScript file) and everything it imports, for a browser. */
export async function bundle(entry: string, options: BundleOptions = {}): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    minify: options.minify ?? false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"development"', ...options.define },
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild produced nothing for ${entry}`);
  return output.text;
}

export interface PageServerOptions {
  /** TypeScript entry bundled and served as `/bundle.js`. */
  entry: string;
  /** The page at `/`. Default: an empty page that loads `/bundle.js` as a module. */
  html?: string;
  /** Other files by path (e.g. `{ '/config.json': '{…}' }`). */
  files?: Record<string, string>;
  /** Content-Security-Policy header of every response. Default: none. */
  csp?: string;
  bundle?: BundleOptions;
}

export interface PageServer {
  /** `http://127.0.0.1:PORT/`. */
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.css': 'text/css',
};

export const DEFAULT_HTML =
  '<!doctype html><html><head><meta charset="utf-8"><title>test page</title></head>' +
  '<body><script type="module" src="/bundle.js"></script></body></html>';

/** Bundles `entry` once and serves it with the page on 127.0.0.1, on a free port. */
export async function servePage(options: PageServerOptions): Promise<PageServer> {
  const files: Record<string, string> = {
    '/': options.html ?? DEFAULT_HTML,
    '/bundle.js': await bundle(options.entry, options.bundle),
    ...options.files,
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const body = files[path];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const ext = path === '/' ? '.html' : path.slice(path.lastIndexOf('.'));
    res.writeHead(200, {
      'content-type': TYPES[ext] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      ...(options.csp ? { 'content-security-policy': options.csp } : {}),
    });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface OpenedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors, uncaught exceptions and blocked requests, in order. */
  problems: string[];
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Opens `url` in a fresh context and waits for its load. Requests to anything but the loopback
 * are aborted and listed in `problems`, with console errors and uncaught exceptions.
 */
export async function openPage(browser: Browser, url: string): Promise<OpenedPage> {
  const context = await browser.newContext();
  const problems: string[] = [];
  await context.route('**/*', (route) => {
    const target = new URL(route.request().url());
    if (
      LOOPBACK.has(target.hostname) ||
      target.protocol === 'data:' ||
      target.protocol === 'blob:'
    ) {
      return route.continue();
    }
    problems.push(`blocked request: ${target.href}`);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  await page.goto(url, { waitUntil: 'load' });
  return { page, context, problems, close: () => context.close() };
}

/** Polls `read` until `done` holds for its value (or throws after `timeoutMs`); returns it. */
export async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
