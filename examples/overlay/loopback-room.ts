/**
 * The demo's stand-in for a LiveKit room when no server is configured: the agent's publisher
 * publishes into it exactly as into a job's room, and each browser tab that opens the overlay
 * page is a "participant" fed those packets over Server-Sent Events. So the overlay shows what
 * the data channel would carry, byte for byte.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricsRoom } from '../../src/index.js';

export class LoopbackRoom extends EventEmitter implements MetricsRoom {
  readonly isConnected = true;
  private readonly viewers = new Map<string, ServerResponse>();
  private nextViewer = 1;

  constructor(readonly name: string) {
    super();
  }

  readonly localParticipant = {
    publishData: async (
      data: Uint8Array,
      options: { topic?: string; destination_identities?: string[] },
    ): Promise<void> => {
      const event = `data: ${JSON.stringify({ topic: options.topic, payload: Buffer.from(data).toString('base64') })}\n\n`;
      for (const [identity, res] of this.viewers) {
        if (!options.destination_identities || options.destination_identities.includes(identity)) {
          res.write(event);
        }
      }
    },
  };

  /** GET /events: one viewer joins the room until it closes the stream. */
  handleEvents(req: IncomingMessage, res: ServerResponse): void {
    const identity = `viewer-${this.nextViewer++}`;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(': joined\n\n');
    this.viewers.set(identity, res);
    req.once('close', () => this.viewers.delete(identity));
    this.emit('participantConnected', { identity });
  }

  close(): void {
    for (const res of this.viewers.values()) res.end();
    this.viewers.clear();
  }
}
