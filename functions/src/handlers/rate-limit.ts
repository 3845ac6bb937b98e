/** Requests per minute one key may make, with bursts up to a tenth of a minute's worth on top of an idle key. */
export const DEFAULT_REQUESTS_PER_MINUTE = 6000;
/** Keys remembered at once; past it the longest idle are forgotten (they start again full, which only ever lets more in). */
const MAX_TRACKED_KEYS = 10_000;

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * A token bucket per caller (an API key, a signed-in member): a runaway script or a leaked key cannot starve the
 * others. In process, per host instance: in Azure each instance limits on its own, which bounds a key to
 * instances x limit; a shared budget would need a store round trip per request.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  private readonly perMs: number;
  private readonly capacity: number;

  constructor(
    requestsPerMinute: number = DEFAULT_REQUESTS_PER_MINUTE,
    private readonly nowMs: () => number = () => Date.now(),
  ) {
    this.perMs = requestsPerMinute / 60_000;
    this.capacity = Math.max(1, Math.ceil(requestsPerMinute / 10));
  }


  describe(): string {
    return `${Math.round(this.perMs * 60_000)} requests a minute (bursts of ${this.capacity})`;
  }

  take(caller: string): RateDecision {
    const now = this.nowMs();
    const bucket = this.buckets.get(caller) ?? { tokens: this.capacity, atMs: now };
    const tokens = Math.min(this.capacity, bucket.tokens + Math.max(0, now - bucket.atMs) * this.perMs);
    // Re-inserted so the Map's order is least recently used first.
    this.buckets.delete(caller);
    if (tokens < 1) {
      this.buckets.set(caller, { tokens, atMs: now });
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000)) };
    }
    this.buckets.set(caller, { tokens: tokens - 1, atMs: now });
    if (this.buckets.size > MAX_TRACKED_KEYS) this.buckets.delete(this.buckets.keys().next().value!);
    return { allowed: true };
  }
}
