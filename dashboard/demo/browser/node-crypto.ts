/**
 * node:crypto as the demo's handlers need it: ids for etags and batches. What signs or hashes keys (audit export,
 * API keys) is not part of a demo without accounts: it says so if it is ever reached.
 */
const unavailable = (name: string) => () => {
  throw new Error(`${name} is not available in the in-browser demo`);
};

/** crypto.randomUUID needs a secure context; a demo on a plain http host name has only getRandomValues. */
export function randomUUID(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function randomBytes(size: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(size));
}

export const createHash = unavailable('createHash');
export const createPrivateKey = unavailable('createPrivateKey');
export const createPublicKey = unavailable('createPublicKey');
export const generateKeyPairSync = unavailable('generateKeyPairSync');
export const sign = unavailable('sign');
export const verify = unavailable('verify');
export class KeyObject {}
