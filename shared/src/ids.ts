import { sha256 } from './sha256';

/** Web Crypto's random source: the same global in Node 20 and in browsers (ids are made in both). */
const webCrypto = (globalThis as unknown as { crypto: { getRandomValues<T extends Uint8Array>(array: T): T } }).crypto;

/**
 * UUIDv7 (RFC 9562): 48-bit Unix-ms timestamp, then random bits. Ids sort by creation time, which keeps
 * the embedded log and the spool in order, and they are made once on the client so retries stay idempotent.
 * Within one millisecond a 12-bit counter in rand_a keeps ids from one process strictly increasing.
 */
let lastMs = -1;
let counter = 0;

export function newEventId(at: number = Date.now()): string {
  const nowMs = Math.floor(at);
  if (nowMs <= lastMs) {
    counter++;
    if (counter > 0xfff) {
      // Counter exhausted within one ms: borrow the next millisecond rather than repeat an id.
      lastMs++;
      counter = 0;
    }
  } else {
    lastMs = nowMs;
    counter = 0;
  }
  const bytes = webCrypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (counter >>> 8) & 0x0f;
  bytes[7] = counter & 0xff;
  return formatUuidV7(lastMs, bytes);
}

/**
 * A UUIDv7-shaped id made from a time and a key, the same every time: for events a projector derives from a
 * document (budget.threshold_crossed), so that the log's idempotent append absorbs a replay.
 */
export function derivedEventId(atMs: number, key: string): string {
  return formatUuidV7(atMs, sha256(key).subarray(0, 16));
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Writes the 48-bit ms timestamp, the version and the variant over 16 bytes (the rest is the caller's) and formats them. */
function formatUuidV7(ms: number, bytes: Uint8Array): string {
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  let hex = '';
  for (const byte of bytes) hex += HEX[byte];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const EVENT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The creation time encoded in a UUIDv7, in Unix ms. */
export function eventIdTime(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
