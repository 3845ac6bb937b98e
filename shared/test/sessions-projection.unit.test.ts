import { newEventId, sessionView, sessionsProjection, interactionsProjection, pageInteractions, KmEventSchema, type KmEvent } from '../src/index';
import { shuffled } from './fixtures/shuffled';

const envelope = { v: 1 as const, orgId: 'o', projectId: 'p', userId: 'u', machineId: 'm', sessionId: 's1', server: { name: 'everything', command: 'npx x' } };
const at = (s: number) => new Date(Date.UTC(2026, 10, 25, 12, 0, s)).toISOString();

function interaction(s: number, outcome: 'ok' | 'error' | 'tool_error', method = 'tools/call'): KmEvent {
  return {
    ...envelope, id: newEventId(), ts: at(s + 1), type: 'mcp.interaction', direction: 'client_to_server', requestId: String(s), method, target: 'echo',
    protocolVersion: '2025-11-25', startedAt: at(s), endedAt: at(s + 1), latencyMs: 1000, requestBytes: 10, responseBytes: 20, outcome,
    error: outcome === 'error' ? { code: -32601, message: 'nope' } : null, resultType: null, tokensIn: null, tokensOut: null, costUsd: null, findings: [], requestPreview: null, responsePreview: null,
  };
}

/** A whole session: start, handshake, calls, a notification, a violation, the end. */
function sessionEvents(): KmEvent[] {
  return [
    { ...envelope, id: newEventId(), ts: at(0), type: 'session.started', transport: 'stdio', pid: 42, kmVersion: '0.1.0' },
    { ...envelope, id: newEventId(), ts: at(1), type: 'session.identified', via: 'initialize', protocolVersion: '2025-06-18', client: { name: 'claude' }, serverInfo: { name: 'srv' } },
    interaction(2, 'ok', 'initialize'),
    interaction(3, 'ok'),
    interaction(5, 'error'),
    interaction(7, 'tool_error'),
    { ...envelope, id: newEventId(), ts: at(8), type: 'mcp.notification', direction: 'server_to_client', method: 'notifications/message', bytes: 5 },
    { ...envelope, id: newEventId(), ts: at(9), type: 'protocol.violation', direction: 'server_to_client', kind: 'non_json', bytes: 5, detail: 'hello' },
    { ...envelope, id: newEventId(), ts: at(10), type: 'session.identified', via: 'meta', protocolVersion: '2026-07-28', client: null, serverInfo: null },
    { ...envelope, id: newEventId(), ts: at(20), type: 'session.ended', exitCode: 0, signal: null, durationMs: 20000, droppedObservations: 1 },
  ];
}

const fold = (events: KmEvent[]) => events.reduce((state, e) => sessionsProjection.evolve(state, e, 's1'), null as ReturnType<typeof sessionsProjection.evolve> | null);


describe('sessions projection', () => {
  it('given a whole session, when folded, then one document tells its story', () => {
    const events = sessionEvents();
    events.forEach((e) => expect(KmEventSchema.safeParse(e).success).toBe(true));
    expect(fold(events)).toMatchObject({
      id: 's1', orgId: 'o', startedAt: at(0), firstSeenAt: at(0), endedAt: at(20), lastActivityAt: at(20), exitCode: 0, durationMs: 20000,
      protocolVersion: '2026-07-28', client: { name: 'claude' }, serverInfo: { name: 'srv' },
      interactionCount: 4, errorCount: 2, toolCallCount: 3, notificationCount: 1, violationCount: 1, droppedObservations: 1,
    });
  });

  it('counts as failed only what the server failed: a request the server sent is the client\'s to answer', () => {
    const fromServer = (s: number, outcome: 'unanswered' | 'error'): KmEvent => ({
      ...(interaction(s, 'ok', 'roots/list') as Extract<KmEvent, { type: 'mcp.interaction' }>),
      direction: 'server_to_client', target: null, outcome, endedAt: outcome === 'unanswered' ? null : at(s + 1), latencyMs: outcome === 'unanswered' ? null : 1000,
      error: outcome === 'error' ? { code: -32601, message: 'no roots' } : null,
    });
    const healthy = [interaction(2, 'ok', 'initialize'), fromServer(3, 'unanswered'), fromServer(4, 'error'), interaction(5, 'ok')];
    healthy.forEach((e) => expect(KmEventSchema.safeParse(e).success).toBe(true));
    expect(fold(healthy)).toMatchObject({ interactionCount: 4, errorCount: 0 });
    const unanswered: KmEvent = { ...(interaction(6, 'ok') as Extract<KmEvent, { type: 'mcp.interaction' }>), outcome: 'unanswered', endedAt: null, latencyMs: null };
    expect(fold([...healthy, unanswered, interaction(8, 'error')])).toMatchObject({ errorCount: 2 });
  });

  it('counts a call km\'s policy refused as the session\'s call, not as a failure or a wait of its server', () => {
    const refused: KmEvent = { ...(interaction(4, 'error') as Extract<KmEvent, { type: 'mcp.interaction' }>), refusedByPolicy: true, error: { code: -32001, message: 'km policy: denied' } };
    expect(KmEventSchema.safeParse(refused).success).toBe(true);
    const withRefusal = fold([interaction(2, 'ok', 'initialize'), interaction(3, 'ok'), refused]);
    const without = fold([interaction(2, 'ok', 'initialize'), interaction(3, 'ok')]);
    expect(withRefusal).toMatchObject({ interactionCount: 3, toolCallCount: 2, errorCount: 0 });
    expect(withRefusal!.waits).toEqual(without!.waits);
  });

  it("counts a request the client abandoned by ending the session as the session's call, not as a failure", () => {
    const abandoned: KmEvent = { ...(interaction(4, 'ok') as Extract<KmEvent, { type: 'mcp.interaction' }>), outcome: 'unanswered', endedAt: null, latencyMs: null, abandoned: true };
    expect(KmEventSchema.safeParse(abandoned).success).toBe(true);
    expect(fold([interaction(2, 'ok', 'initialize'), abandoned])).toMatchObject({ interactionCount: 2, errorCount: 0 });
    const timedOut: KmEvent = { ...abandoned, abandoned: undefined };
    delete (timedOut as { abandoned?: true }).abandoned;
    expect(fold([interaction(2, 'ok', 'initialize'), timedOut])).toMatchObject({ interactionCount: 2, errorCount: 1 });
  });

  it('adds up dropped observations without overflowing', () => {
    const ended = (dropped: number): KmEvent => ({ ...envelope, id: newEventId(), ts: at(20), type: 'session.ended', exitCode: 0, signal: null, durationMs: 1, droppedObservations: dropped });
    expect(fold([ended(Number.MAX_SAFE_INTEGER), ended(Number.MAX_SAFE_INTEGER)])!.droppedObservations).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('keeps the transport of session.started: given a session over HTTP, its view says http; before it arrives, and for an older document, null', () => {
    const started: KmEvent = { ...envelope, id: newEventId(), ts: at(0), type: 'session.started', transport: 'http', pid: 42, kmVersion: '0.1.0' };
    const call = interaction(2, 'ok');
    expect(sessionView(fold([call, started])!)).toMatchObject({ transport: 'http', startedAt: at(0) });
    expect(sessionView(fold([call])!).transport).toBeNull();
    const { transport: _t, ...older } = fold([started])!;
    expect(sessionView(older).transport).toBeNull();
  });

  it("keeps why a server could not start and the previews km dropped; the view of an older document says none", () => {
    const failed: KmEvent = { ...envelope, id: newEventId(), ts: at(1), type: 'session.ended', exitCode: 127, signal: null, durationMs: 3, droppedObservations: 0, droppedPreviews: 4, startError: 'cannot start "srv": command not found (ENOENT)' };
    expect(KmEventSchema.safeParse(failed).success).toBe(true);
    expect(sessionView(fold([failed])!)).toMatchObject({ exitCode: 127, startError: 'cannot start "srv": command not found (ENOENT)', droppedPreviews: 4 });
    const { droppedPreviews: _p, startError: _s, ...older } = fold([failed])!;
    expect(sessionView(older)).toMatchObject({ startError: null, droppedPreviews: 0 });
    expect(KmEventSchema.safeParse({ ...failed, startError: 'x'.repeat(501) }).success).toBe(false);
  });

  // Repeats never reach the fold: the projector skips replays by log position (functions/test/projector*.test.ts).
  it('gives the same document for any order of the events', () => {
    const events = sessionEvents();
    const expected = fold(events);
    for (let seed = 1; seed <= 200; seed++) expect(fold(shuffled(events, seed))).toEqual(expected);
  });

  it("shows the project and user of the session's earliest event in any order, when a sender's events of it name several", () => {
    const events = sessionEvents();
    const later = { ...interaction(12, 'ok'), projectId: 'elsewhere', userId: 'someone-else' } as KmEvent;
    const docs = [[...events, later], [later, ...events], shuffled([later, ...events], 7)].map((order) => sessionView(fold(order)!));
    // Before, whichever came first: 'elsewhere' when the stray event was folded first.
    for (const doc of docs) expect(doc).toMatchObject({ projectId: 'p', userId: 'u' });
    expect(docs[1]).toEqual(docs[0]);
    expect(docs[0]).not.toHaveProperty('envelopeBy');
  });

  it('interactions: one page per ingest batch, the same on every replay', () => {
    const e = { ...interaction(3, 'ok'), receivedAt: at(30), batchId: 'b1' };
    const pageId = `${at(30)}|b1`;
    expect(interactionsProjection.docIds(e)).toEqual([pageId]);
    const once = interactionsProjection.evolve(null, e, pageId);
    expect(interactionsProjection.evolve(once, e, pageId)).toEqual(once);
    expect(pageInteractions(once)).toEqual([
      expect.objectContaining({ id: e.id, sessionId: 's1', method: 'tools/call', target: 'echo', latencyMs: 1000, recordedAt: e.ts, receivedAt: at(30), batchId: 'b1' }),
    ]);
    expect(interactionsProjection.docIds(sessionEvents()[0]!)).toEqual([]);
  });

  it('interactions: a page gives back the optional fields an event had (model, refusedByPolicy), and no others', () => {
    const base = { ...(interaction(3, 'ok') as Extract<KmEvent, { type: 'mcp.interaction' }>), receivedAt: at(30), batchId: 'b1' };
    const plain = { ...base, id: newEventId() };
    const priced = { ...base, id: newEventId(), model: 'gpt-5' };
    const refused = { ...base, id: newEventId(), refusedByPolicy: true as const };
    const abandoned = { ...base, id: newEventId(), outcome: 'unanswered' as const, endedAt: null, latencyMs: null, abandoned: true as const };
    const page = JSON.parse(JSON.stringify(interactionsProjection.evolveBatch!(null, [plain, priced, refused, abandoned], `${at(30)}|b1`)));
    const byId = new Map(pageInteractions(page).map((i) => [i.id, i]));
    expect(byId.get(plain.id)).not.toHaveProperty('model');
    expect(byId.get(plain.id)).not.toHaveProperty('refusedByPolicy');
    expect(byId.get(priced.id)).toMatchObject({ model: 'gpt-5' });
    expect(byId.get(priced.id)).not.toHaveProperty('refusedByPolicy');
    expect(byId.get(refused.id)).toMatchObject({ refusedByPolicy: true });
    expect(byId.get(refused.id)).not.toHaveProperty('model');
    expect(byId.get(abandoned.id)).toMatchObject({ abandoned: true, outcome: 'unanswered' });
    expect(byId.get(refused.id)).not.toHaveProperty('abandoned');
    // Folded again with the page as stored, the refusal stays; a page with none has no list.
    const again = interactionsProjection.evolveBatch!(page, [plain], `${at(30)}|b1`);
    expect(again.refused).toEqual([refused.id]);
    expect(again.abandoned).toEqual([abandoned.id]);
    expect(interactionsProjection.evolve(null, plain, `${at(30)}|b1`)).not.toHaveProperty('refused');
    expect(interactionsProjection.evolve(null, plain, `${at(30)}|b1`)).not.toHaveProperty('abandoned');
  });
});
