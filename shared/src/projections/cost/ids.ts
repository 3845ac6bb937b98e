import { createHash } from 'node:crypto';

/**
 * A UUIDv7-shaped id made from a time and a key, the same every time: for events a projector derives from a
 * document (budget.threshold_crossed), so that the log's idempotent append absorbs a replay.
 */
export function derivedEventId(atMs: number, key: string): string {
  const bytes = createHash('sha256').update(key).digest().subarray(0, 16);
  bytes[0] = Math.floor(atMs / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(atMs / 2 ** 32) & 0xff;
  bytes[2] = (atMs >>> 24) & 0xff;
  bytes[3] = (atMs >>> 16) & 0xff;
  bytes[4] = (atMs >>> 8) & 0xff;
  bytes[5] = atMs & 0xff;
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
