import { HUB_LIMITS } from './protocol.js';

/**
 * Splits a byte stream into newline-delimited frames of at most `maxFrameBytes` bytes each.
 * `buffered` is what an unfinished frame holds, so an owner can bound the total across readers.
 */
export class FrameReader {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(
    /** Called with each frame, parsed (undefined when it is not JSON), and its length in bytes. */
    private readonly onFrame: (frame: unknown, bytes: number) => void,
    private readonly onOversize: () => void,
    private readonly maxFrameBytes: number = HUB_LIMITS.maxFrameBytes,
  ) {}

  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let newline: number;
    while ((newline = chunk.indexOf(0x0a, start)) >= 0) {
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (this.size + piece.length > this.maxFrameBytes) return this.oversize();
      const line =
        this.parts.length === 0
          ? piece
          : Buffer.concat([...this.parts, piece], this.size + piece.length);
      this.parts = [];
      this.size = 0;
      if (line.length === 0) continue;
      let frame: unknown;
      try {
        frame = JSON.parse(line.toString('utf8'));
      } catch {
        frame = undefined; // a garbled frame is refused (and counted) as one; the next is read
      }
      this.onFrame(frame, line.length);
    }
    const rest = chunk.subarray(start);
    if (rest.length === 0) return;
    if (this.size + rest.length > this.maxFrameBytes) return this.oversize();
    this.parts.push(Buffer.from(rest)); // a copy: a slice would keep the whole chunk alive
    this.size += rest.length;
  }

  private oversize(): void {
    this.parts = [];
    this.size = 0;
    this.onOversize();
  }
}
