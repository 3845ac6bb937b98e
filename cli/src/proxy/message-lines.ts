/**
 * The JSON-RPC messages in Streamable HTTP bodies, as the newline-framed lines the observer reads (km proxy). A
 * JSON body is one message or a batch; an SSE stream carries one message per event, in its `data:` lines. What is
 * not JSON is skipped here: the bytes themselves were forwarded unchanged, this is only what km records.
 */
export function jsonLine(text: string): Buffer | null {
  try {
    return Buffer.from(JSON.stringify(JSON.parse(text)) + '\n');
  } catch {
    return null;
  }
}

/** An event stream read as it arrives: each whole event's data, joined as the SSE format says. */
export class SseMessages {
  private buffered = '';
  private data: string[] = [];

  constructor(private readonly onMessage: (line: Buffer) => void) {}

  push(text: string): void {
    this.buffered += text;
    for (let nl = this.buffered.search(/\r\n|\r|\n/); nl !== -1; nl = this.buffered.search(/\r\n|\r|\n/)) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + (this.buffered.startsWith('\r\n', nl) ? 2 : 1));
      this.line(line);
    }
  }

  end(): void {
    if (this.buffered !== '') this.line(this.buffered);
    this.buffered = '';
    this.line('');
  }

  private line(line: string): void {
    if (line === '') {
      const data = this.data.join('\n');
      this.data = [];
      const message = data === '' ? null : jsonLine(data);
      if (message) this.onMessage(message);
      return;
    }
    if (line.startsWith('data:')) this.data.push(line.slice(line[5] === ' ' ? 6 : 5));
  }
}
