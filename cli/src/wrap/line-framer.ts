/**
 * Splits a byte stream into newline-delimited frames (MCP's stdio framing). It sees a copy of the bytes after
 * they were forwarded, so it may be slow or wrong without harming the session; it must only never grow
 * without bound. Frames longer than maxFrameBytes are reported by size and their content dropped.
 */
export type Frame =
  | { kind: 'line'; text: string; bytes: number; at: number }
  | { kind: 'oversized'; bytes: number; at: number };

const NEWLINE = 0x0a;
const CR = 0x0d;

export class LineFramer {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private oversized = false;
  private oversizedBytes = 0;

  constructor(private readonly maxFrameBytes: number = 64 * 1024 * 1024) {}

  /** Feeds one chunk; `at` is when it arrived. Returns the frames this chunk completed. */
  push(chunk: Buffer, at: number): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      this.take(chunk.subarray(start, end));
      if (nl === -1) break;
      const frame = this.finishFrame(at, 1);
      if (frame) frames.push(frame);
      start = nl + 1;
    }
    return frames;
  }

  /** At end of stream, a last line without a newline is still a frame. */
  end(at: number): Frame[] {
    const frame = this.finishFrame(at, 0);
    return frame ? [frame] : [];
  }

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.oversized) {
      this.oversizedBytes += piece.length;
      return;
    }
    if (this.partBytes + piece.length > this.maxFrameBytes) {
      this.oversized = true;
      this.oversizedBytes = this.partBytes + piece.length;
      this.parts = [];
      this.partBytes = 0;
      return;
    }
    // Keep a reference, not a copy: the forwarded chunk is not reused by the stream.
    this.parts.push(piece);
    this.partBytes += piece.length;
  }

  /** newlineBytes: 1 when the frame ended with a newline, counted in its size on the wire. */
  private finishFrame(at: number, newlineBytes: number): Frame | null {
    if (this.oversized) {
      const bytes = this.oversizedBytes + newlineBytes;
      this.oversized = false;
      this.oversizedBytes = 0;
      return { kind: 'oversized', bytes, at };
    }
    if (this.partBytes === 0) return null;
    let buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
    const bytes = buf.length;
    this.parts = [];
    this.partBytes = 0;
    if (buf[buf.length - 1] === CR) buf = buf.subarray(0, buf.length - 1);
    const text = buf.toString('utf8');
    if (text.trim() === '') return null;
    return { kind: 'line', text, bytes: bytes + newlineBytes, at };
  }
}
