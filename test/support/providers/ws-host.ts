/**
 * The HTTP server under each local WebSocket provider: it listens on 127.0.0.1 port 0, can
 * refuse an upgrade with an HTTP status (as a provider does on a bad key or a rate limit), and
 * hands accepted sockets to the provider. Closing it ends every connection.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface WsHostHandlers {
  /** An HTTP status to refuse the upgrade with, or undefined to accept it. */
  refuse?(req: http.IncomingMessage): number | undefined;
  connection(ws: WebSocket, req: http.IncomingMessage): void;
  /** Plain HTTP requests (some providers mix both). Default: 404. */
  request?(req: http.IncomingMessage, res: http.ServerResponse): void;
}

/** Largest WebSocket message a local provider accepts (audio chunks are far smaller). */
const MAX_PAYLOAD = 4 * 1024 * 1024;

export class WsHost {
  readonly #http: http.Server;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });

  private constructor(handlers: WsHostHandlers) {
    this.#http = http.createServer((req, res) => {
      if (handlers.request) handlers.request(req, res);
      else res.writeHead(404).end();
    });
    this.#http.on('upgrade', (req, socket, head) => {
      const status = handlers.refuse?.(req);
      if (status !== undefined) {
        const reason = http.STATUS_CODES[status] ?? 'Refused';
        const body = JSON.stringify({ err_code: 'REFUSED', err_msg: `injected ${status}` });
        socket.end(
          `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => handlers.connection(ws, req));
    });
  }

  static async start(handlers: WsHostHandlers): Promise<WsHost> {
    const host = new WsHost(handlers);
    await new Promise<void>((resolve) => host.#http.listen(0, '127.0.0.1', resolve));
    return host;
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }
}
