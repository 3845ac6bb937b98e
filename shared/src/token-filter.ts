/**
 * A Bloom filter over strings, for the o200k vocabulary (o200k-vocabulary.ts): "is this text one token?" with a
 * small rate of false yeses and no false noes. FNV-1a and a murmur-style mix over UTF-16 code units, combined by
 * double hashing; the build script and the estimator share these functions, so the bits always mean the same.
 */
export const TOKEN_FILTER_SHAPE = { bitsPerToken: 12, hashes: 8, maxTokenLength: 32 } as const;

/** The filter's bit positions for a text, into out (reused by lookups, so a lookup allocates nothing). */
export function tokenFilterPositions(text: string, bitCount: number, out: number[] = []): number[] {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h2 |= 1;
  for (let i = 0; i < TOKEN_FILTER_SHAPE.hashes; i++) out[i] = ((h1 + Math.imul(i, h2)) >>> 0) % bitCount;
  return out;
}

export class TokenFilter {
  private readonly bits: Uint8Array;
  private readonly positions: number[] = [];
  constructor(private readonly bitCount: number, base64: string) {
    // atob: in browsers too. A plain loop, not Uint8Array.from(text, fn): that iterates the 300 KB text one string
    // per character, and left km's observer thread 10-20 MB larger for good (issue 11's 60 MB target).
    const binary = atob(base64);
    this.bits = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) this.bits[i] = binary.charCodeAt(i);
  }

  has(text: string): boolean {
    for (const bit of tokenFilterPositions(text, this.bitCount, this.positions)) if ((this.bits[bit >> 3]! & (1 << (bit & 7))) === 0) return false;
    return true;
  }
}
