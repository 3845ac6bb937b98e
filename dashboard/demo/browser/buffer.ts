/**
 * The few Buffer calls the handlers make (cursors in base64url, request bodies), for the demo in a browser where
 * Node's Buffer is not a global. Installed once by the demo's entry before any handler runs.
 */
export class BrowserBuffer extends Uint8Array {
  static from(value: string | Uint8Array | ArrayBuffer, encoding: 'utf8' | 'base64url' = 'utf8'): BrowserBuffer {
    if (typeof value !== 'string') return new BrowserBuffer(value instanceof ArrayBuffer ? value : value.slice().buffer);
    if (encoding === 'utf8') return new BrowserBuffer(new TextEncoder().encode(value).buffer);
    const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/'));
    return new BrowserBuffer(Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer);
  }

  static alloc(size: number): BrowserBuffer {
    return new BrowserBuffer(size);
  }

  static concat(chunks: readonly Uint8Array[], size = chunks.reduce((n, c) => n + c.byteLength, 0)): BrowserBuffer {
    const out = new BrowserBuffer(size);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk.subarray(0, size - at), at);
      at += chunk.byteLength;
      if (at >= size) break;
    }
    return out;
  }

  override toString(encoding: 'utf8' | 'base64url' = 'utf8'): string {
    if (encoding === 'utf8') return new TextDecoder().decode(this);
    let binary = '';
    for (const byte of this) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
}

export function installBuffer(): void {
  const global = globalThis as { Buffer?: unknown };
  global.Buffer ??= BrowserBuffer;
}
