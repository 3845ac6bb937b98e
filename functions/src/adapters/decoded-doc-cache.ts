/**
 * Documents a query decoded, kept by key and ETag so that the next query reading the same version skips the inflate
 * and the JSON parse, which were most of a dashboard request's time over a month of traffic (a 30-day latency read
 * parses 3-5 MB; issue 11). A document changes its ETag on every write, so a stale entry is never served: it is
 * simply not found. Least recently used entries go first once the JSON they came from passes the budget.
 *
 * Cached documents are shared by every query that reads them, so they are frozen (deep): a handler that would
 * change one throws instead of changing what the next request reads.
 */
export class DecodedDocCache {
  private readonly entries = new Map<string, { etag: string; doc: unknown; bytes: number }>();
  private bytes = 0;

  /** budgetBytes: of the documents' JSON text. One document over an eighth of it is not kept. */
  constructor(private readonly budgetBytes: number) {}

  get(key: string, etag: string): unknown {
    const entry = this.entries.get(key);
    if (!entry || entry.etag !== etag) return undefined;
    // Newest use last: Map keeps insertion order, so the first entry is the least recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.doc;
  }

  /** Keeps doc (frozen, and returned so) as the version etag of key. */
  set<T>(key: string, etag: string, doc: T, jsonBytes: number): T {
    deepFreeze(doc);
    if (jsonBytes > this.budgetBytes / 8) return doc;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, { etag, doc, bytes: jsonBytes });
    this.bytes += jsonBytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.budgetBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
    return doc;
  }

  get size(): { documents: number; bytes: number } {
    return { documents: this.entries.size, bytes: this.bytes };
  }
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
}
