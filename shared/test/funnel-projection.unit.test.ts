import { funnelProjection, funnelView, firstRunView, newEventId, FUNNEL_DOC_ID, FIRST_FINDINGS_KEPT, KmEventSchema, ServerEventSchema, type FunnelDoc, type KmEvent, type ServerEvent } from '../src/index';
import { shuffled } from './fixtures/shuffled';

const at = (s: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, s)).toISOString();
const envelope = { v: 1 as const, orgId: 'o', projectId: 'p', userId: 'u', machineId: 'm', sessionId: 's1', server: { name: 'everything', command: 'npx x' } };
/** As the log holds them: the server's receivedAt beside the client's ts. */
const received = <E extends KmEvent>(event: E, s: number) => ({ ...event, receivedAt: at(s), batchId: 'b' }) as E;

const landing = (s: number): ServerEvent => ({ id: newEventId(), v: 1, type: 'funnel.landing_viewed', ts: at(s), orgId: 'o' });
const signIn = (s: number): ServerEvent => ({ id: newEventId(), v: 1, type: 'member.signed_in', ts: at(s), orgId: 'o', login: 'octocat', provider: 'github', role: 'owner', firstTime: true });
const keyMade = (s: number): ServerEvent => ({ id: newEventId(), v: 1, type: 'key.created', ts: at(s), orgId: 'o', keyId: 'abcdefabcdef', keyHash: 'a'.repeat(64), prefix: 'km_live_', role: 'member', projectId: null, label: 'first run', actor: 'github:octocat' });
const started = (s: number): KmEvent => received({ ...envelope, id: newEventId(), ts: at(s), type: 'session.started', transport: 'stdio', pid: 1, kmVersion: '0.1.0' }, s);
function call(s: number, method: string, target: string | null, findings: Array<{ ruleId: string; severity: 'critical' | 'high'; path: string }> = []): KmEvent {
  return received(
    {
      ...envelope, id: newEventId(), ts: at(s), type: 'mcp.interaction', direction: 'client_to_server', requestId: String(s), method, target, protocolVersion: '2025-11-25',
      startedAt: at(s), endedAt: at(s), latencyMs: 12, requestBytes: 10, responseBytes: 20, outcome: 'ok', error: null, resultType: null,
      tokensIn: 30, tokensOut: 40, costUsd: 0.0012, findings, requestPreview: null, responsePreview: null,
    },
    s,
  );
}

/** The funnel of one org: a landing view, a sign-in, a key, then a session with a handshake and a tool call that leaked a key. */
function journey(): Array<KmEvent | ServerEvent> {
  const leak = Array.from({ length: 7 }, (_, i) => ({ ruleId: `rule-${i}`, severity: 'critical' as const, path: `$.result.content[${i}].text` }));
  return [landing(0), landing(3), signIn(10), keyMade(25), started(40), call(41, 'initialize', null), call(42, 'tools/call', 'echo', leak), signIn(50)];
}

function fold(events: ReadonlyArray<KmEvent | ServerEvent>): FunnelDoc | null {
  let state: FunnelDoc | null = null;
  for (const event of events) for (const docId of funnelProjection.docIds(event)) state = funnelProjection.evolve(state, event, docId);
  return state;
}


describe('funnel projection', () => {
  it('folds server events and client events alike, into one document per org', () => {
    expect(funnelProjection.foldsServerEvents).toBe(true);
    for (const event of journey()) expect(funnelProjection.docIds(event)).toEqual([FUNNEL_DOC_ID]);
    const budget: ServerEvent = { id: newEventId(), v: 1, type: 'budget.set', ts: at(1), orgId: 'o', scope: 'org', projectId: null, monthlyUsd: 5, webhookUrl: null };
    expect(funnelProjection.docIds(budget)).toEqual([]);
  });

  it('given a landing view, a sign-in, a key and a session, when folded, then the funnel counts each step and the time between them', () => {
    const events = journey();
    for (const event of events) {
      const { receivedAt: _r, batchId: _b, ...sent } = event as KmEvent & { receivedAt?: string; batchId?: string };
      expect((event.type.startsWith('session') || event.type.startsWith('mcp') ? KmEventSchema : ServerEventSchema).safeParse(sent).success).toBe(true);
    }
    const view = funnelView('o', fold(events));
    expect(view).toEqual({
      orgId: 'o',
      landingViews: { count: 2, first: at(0), last: at(3) },
      signIns: { count: 2, first: at(10), last: at(50) },
      keysCreated: { count: 1, first: at(25), last: at(25) },
      firstEventAt: at(40),
      eventCount: 3,
      gapsMs: { landingToSignIn: 10_000, signInToKey: 15_000, keyToFirstEvent: 15_000, signInToFirstEvent: 30_000 },
    });
  });

  it('then the first run sees the first event, the first call and the first tool call, with a bounded list of findings', () => {
    const first = firstRunView('o', fold(journey()));
    expect(first.firstEvent).toEqual({ receivedAt: at(40), type: 'session.started', sessionId: 's1', server: 'everything' });
    expect(first.firstInteraction).toMatchObject({ method: 'initialize', target: null, findingCount: 0 });
    expect(first.firstToolCall).toMatchObject({ receivedAt: at(42), server: 'everything', method: 'tools/call', target: 'echo', tokensIn: 30, tokensOut: 40, costUsd: 0.0012, latencyMs: 12, findingCount: 7 });
    expect(first.firstToolCall!.findings).toHaveLength(FIRST_FINDINGS_KEPT);
    expect(JSON.stringify(first)).not.toContain('"key"');
  });

  it('is the same document in any fold order and in one batch', () => {
    const events = journey();
    const inOrder = fold(events);
    for (const seed of [1, 2, 3, 4, 5]) expect(fold(shuffled(events, seed))).toEqual(inOrder);
    expect(funnelProjection.evolveBatch!(null, events, FUNNEL_DOC_ID)).toEqual(inOrder);
  });

  it('does not change the state it is given', () => {
    const before = fold(journey().slice(0, 4))!;
    const copy = structuredClone(before);
    funnelProjection.evolveBatch!(before, journey().slice(4), FUNNEL_DOC_ID);
    expect(before).toEqual(copy);
  });

  it('stays the same size however many events the org sends (no id lists)', () => {
    const few = JSON.stringify(fold(journey()));
    const many = JSON.stringify(fold([...journey(), ...Array.from({ length: 500 }, (_, i) => call(60 + (i % 30), 'tools/call', `tool-${i}`))]));
    expect(many.length - few.length).toBeLessThan(20);
  });

  it('given no events, answers an empty funnel and no first run; a step before the one it follows has no gap', () => {
    expect(funnelView('o', null)).toMatchObject({ landingViews: { count: 0, first: null }, firstEventAt: null, gapsMs: { landingToSignIn: null, signInToKey: null, keyToFirstEvent: null, signInToFirstEvent: null } });
    expect(firstRunView('o', null)).toEqual({ orgId: 'o', firstEvent: null, firstInteraction: null, firstToolCall: null });
    // km serve's own key ships before anyone signs in: the first event comes before the first sign-in.
    expect(funnelView('o', fold([started(5), signIn(10)])).gapsMs.signInToFirstEvent).toBeNull();
  });
});
