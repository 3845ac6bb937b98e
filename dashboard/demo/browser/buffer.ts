/**
 * The few Buffer calls the handlers make (cursors in base64url, request bodies), for the demo in a browser where
 * Node's Buffer is not a global. Installed once by the demo's entry before any handler runs.
 */
class Bytes extends Uint8Array {
  override toString(encoding: 'utf8' | 'base64url' = 'utf8'): string {
    if (encoding === 'utf8') return new TextDecoder().decode(this);
    let binary = '';
    for (const byte of this) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
}

export const BrowserBuffer = {
  from(value: string | Uint8Array, encoding: 'utf8' | 'base64url' = 'utf8'): Bytes {
    if (typeof value !== 'string') return new Bytes(value);
    if (encoding === 'utf8') return new Bytes(new TextEncoder().encode(value));
    const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/'));
    return new Bytes(Array.from(binary, (c) => c.charCodeAt(0)));
  },

  alloc: (size: number): Bytes => new Bytes(size),

  concat(chunks: readonly Uint8Array[], size = chunks.reduce((n, c) => n + c.byteLength, 0)): Bytes {
    const out = new Bytes(size);
    let at = 0;
    for (const chunk of chunks) {
      if (at >= size) break;
      out.set(chunk.subarray(0, size - at), at);
      at += chunk.byteLength;
    }
    return out;
  },
};

export function installBuffer(): void {
  const global = globalThis as { Buffer?: unknown };
  global.Buffer ??= BrowserBuffer;
}
