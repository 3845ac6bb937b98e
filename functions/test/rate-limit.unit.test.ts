import { sessionsRoute } from '@km/shared';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { RateLimiter } from '../src/handlers/rate-limit';
import { httpRoutes } from '../src/routes';
import { anHttpRequest, anInvocationContext, bearer } from './http-fixtures';

describe('RateLimiter', () => {
  it('lets a burst of a tenth of a minute through, then one request per 1/rate, per caller', () => {
    let now = 0;
    const limiter = new RateLimiter(600, () => now);
    const burst = Array.from({ length: 60 }, () => limiter.take('key:a').allowed);
    expect(burst.every(Boolean)).toBe(true);
    expect(limiter.take('key:a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    // Another caller has its own bucket.
    expect(limiter.take('key:b')).toEqual({ allowed: true });
    now += 100; // 600 a minute: one every 100 ms
    expect(limiter.take('key:a')).toEqual({ allowed: true });
    expect(limiter.take('key:a').allowed).toBe(false);
  });

  it('says how long to wait when the rate is slow', () => {
    let now = 0;
    const limiter = new RateLimiter(6, () => now);
    expect(limiter.take('k').allowed).toBe(true);
    expect(limiter.take('k')).toEqual({ allowed: false, retryAfterSeconds: 10 });
    now += 10_000;
    expect(limiter.take('k').allowed).toBe(true);
  });
});

describe('a route past its rate', () => {
  it('answers 429 with Retry-After, and the next key is not held up', async () => {
    let now = 0;
    const routes = httpRoutes({
      eventLog: new MemoryEventLog(),
      readModelStore: new MemoryReadModelStore(),
      authenticator: new ApiKeyAuthenticator([
        { keyHash: hashApiKey('key-a'), orgId: 'org-a' },
        { keyHash: hashApiKey('key-b'), orgId: 'org-b' },
      ]),
      now: () => new Date(now),
      newBatchId: () => 'b',
      rateLimiter: new RateLimiter(10, () => now),
    });
    const sessions = routes.find((route) => route.name === sessionsRoute.name)!.handler;
    const ask = (key: string) => sessions(anHttpRequest({ method: 'GET', path: '/api/sessions', headers: bearer(key) }), anInvocationContext());
    expect((await ask('key-a')).status ?? 200).toBe(200);
    const refused = await ask('key-a');
    expect(refused.status).toBe(429);
    expect((refused.headers as Record<string, string>)['Retry-After']).toBe('6');
    expect((refused.jsonBody as { error: string }).error).toMatch(/too many requests with this key: at most 10 requests a minute/);
    expect((await ask('key-b')).status ?? 200).toBe(200);
  });
});
