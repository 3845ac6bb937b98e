import type { KmEvent } from '@km/shared';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { makeQuerySessionHandler } from '../src/handlers/query-session';
import { makeQuerySessionInteractionsHandler } from '../src/handlers/query-session-interactions';
import { makeQuerySessionsHandler } from '../src/handlers/query-sessions';
import type { HttpHandler } from '../src/handlers/http-results';
import { projectBatch } from '../src/projector';
import { readModels } from '../src/read-models';
import { aSessionOfEvents, anEnvelope, interaction, positioned, stored } from './fixtures';
import { anHttpRequest, anInvocationContext, bearer } from './http-fixtures';

const authenticator = new ApiKeyAuthenticator([
  { keyHash: hashApiKey('key-a'), orgId: 'org-a' },
  { keyHash: hashApiKey('key-b'), orgId: 'org-b' },
]);

/** Given these events projected into a store, the three query handlers over it. */
async function given(events: KmEvent[]) {
  const readModelStore = new MemoryReadModelStore();
  const projected = positioned(stored(events));
  for (const projection of readModels) await projectBatch(projection, readModelStore, projected);
  const deps = { readModelStore, authenticator };
  const call = async (handler: HttpHandler, path: string, params: Record<string, string> = {}, key = 'key-a') => {
    const response = await handler(anHttpRequest({ path, params, headers: bearer(key) }), anInvocationContext());
    return { status: response.status, body: response.jsonBody };
  };
  return {
    sessions: (query = '', key?: string) => call(makeQuerySessionsHandler(deps), `/api/sessions${query}`, {}, key),
    session: (id: string, key?: string) => call(makeQuerySessionHandler(deps), `/api/sessions/${id}`, { id }, key),
    interactions: (id: string, query = '', key?: string) =>
      call(makeQuerySessionInteractionsHandler(deps), `/api/sessions/${id}/interactions${query}`, { id }, key),
  };
}

const sessionOf = (sessionId: string, startAt: string, overrides: Parameters<typeof anEnvelope>[0] = {}) =>
  aSessionOfEvents(anEnvelope({ orgId: 'org-a', sessionId, ...overrides }), startAt, 2);

describe('GET /api/sessions', () => {
  it("lists the caller's sessions newest first, as session views", async () => {
    const api = await given([
      ...sessionOf('older', '2026-05-01T09:00:00.000Z'),
      ...sessionOf('newer', '2026-05-01T10:00:00.000Z'),
      ...sessionOf('theirs', '2026-05-01T11:00:00.000Z', { orgId: 'org-b' }),
    ]);
    const response = await api.sessions();
    expect(response.status).toBe(200);
    expect(response.body.sessions.map((s: { id: string }) => s.id)).toEqual(['newer', 'older']);
    expect(response.body.sessions[0]).toMatchObject({ orgId: 'org-a', interactionCount: 2 });
    expect(response.body.sessions[0]).not.toHaveProperty('applied');
    expect((await api.sessions('', 'key-b')).body.sessions.map((s: { id: string }) => s.id)).toEqual(['theirs']);
  });

  it('filters by projectId and userId and honours limit', async () => {
    const api = await given([
      ...sessionOf('a1', '2026-05-01T09:00:00.000Z', { projectId: 'alpha', userId: 'ann' }),
      ...sessionOf('a2', '2026-05-01T10:00:00.000Z', { projectId: 'alpha', userId: 'bob' }),
      ...sessionOf('b1', '2026-05-01T11:00:00.000Z', { projectId: 'beta', userId: 'ann' }),
    ]);
    const ids = async (query: string) => (await api.sessions(query)).body.sessions.map((s: { id: string }) => s.id);
    expect(await ids('?projectId=alpha')).toEqual(['a2', 'a1']);
    expect(await ids('?userId=ann')).toEqual(['b1', 'a1']);
    expect(await ids('?projectId=alpha&userId=ann')).toEqual(['a1']);
    expect(await ids('?limit=1')).toEqual(['b1']);
  });

  it('answers 400 with a readable message for a bad limit', async () => {
    const api = await given([]);
    for (const limit of ['0', '501', 'ten', '-1', '1.5']) {
      const response = await api.sessions(`?limit=${limit}`);
      expect(response).toEqual({ status: 400, body: { error: `limit must be a whole number from 1 to 500, got "${limit}"` } });
    }
    expect((await api.sessions(`?projectId=${'x'.repeat(201)}`)).status).toBe(400);
  });

  it('answers 401 to a wrong key', async () => {
    const api = await given([]);
    expect((await api.sessions('', 'nope')).status).toBe(401);
  });
});

describe('GET /api/sessions/{id}', () => {
  it("returns the caller's session and 404 for another org's, even with the same id", async () => {
    const api = await given([...sessionOf('s1', '2026-05-01T09:00:00.000Z'), ...sessionOf('only-b', '2026-05-01T09:00:00.000Z', { orgId: 'org-b' })]);
    expect(await api.session('s1')).toMatchObject({ status: 200, body: { id: 's1', orgId: 'org-a', interactionCount: 2 } });
    expect((await api.session('s1', 'key-b')).status).toBe(404);
    const missing = await api.session('only-b');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/GET \/api\/sessions/);
  });
});

describe('GET /api/sessions/{id}/interactions', () => {
  it("returns the session's interactions in the order they started, and nothing of other sessions", async () => {
    const envelope = anEnvelope({ orgId: 'org-a', sessionId: 's1' });
    const late = interaction(envelope, '2026-05-01T09:00:05.000Z', { requestId: '2' });
    const early = interaction(envelope, '2026-05-01T09:00:01.000Z', { requestId: '1' });
    const api = await given([late, early, ...sessionOf('s2', '2026-05-01T09:00:00.000Z')]);
    const response = await api.interactions('s1');
    expect(response.status).toBe(200);
    expect(response.body.sessionId).toBe('s1');
    expect(response.body.interactions.map((i: { id: string }) => i.id)).toEqual([early.id, late.id]);
    expect((await api.interactions('s1', '?limit=1')).body.interactions).toHaveLength(1);
  });

  it("answers 404 for a session of another org, 400 for a bad limit", async () => {
    const api = await given(sessionOf('s1', '2026-05-01T09:00:00.000Z'));
    expect((await api.interactions('s1', '', 'key-b')).status).toBe(404);
    expect((await api.interactions('s1', '?limit=0')).status).toBe(400);
  });
});
