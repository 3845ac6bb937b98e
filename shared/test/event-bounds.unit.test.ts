import { InteractionSchema, newEventId } from '../src/index';

const startedAt = '2026-11-25T12:00:00.000Z';
const anInteraction = (overrides: Record<string, unknown> = {}) => ({
  v: 1, id: newEventId(Date.parse(startedAt)), ts: startedAt, type: 'mcp.interaction', orgId: 'o', projectId: 'p', userId: 'u', machineId: 'm',
  sessionId: 's', server: { name: 'srv', command: 'x' }, direction: 'client_to_server', requestId: '1', method: 'tools/call',
  target: 'echo', protocolVersion: null, startedAt, endedAt: startedAt, latencyMs: 10, requestBytes: 1, responseBytes: 1,
  outcome: 'ok', error: null, resultType: null, tokensIn: null, tokensOut: null, costUsd: null, findings: [], requestPreview: null,
  responsePreview: null, ...overrides,
});

describe('numbers in an interaction', () => {
  it('accepts a sane one', () => {
    expect(InteractionSchema.safeParse(anInteraction({ costUsd: 0.25, tokensIn: 100, tokensOut: 100 })).success).toBe(true);
  });

  it.each([
    ['costUsd', 1e300],
    ['costUsd', 1e6 + 1],
    ['costUsd', -1],
    ['latencyMs', 1e308],
    ['latencyMs', 86_400_001],
    ['requestBytes', 1e13],
    ['responseBytes', -1],
    ['tokensIn', 1e300],
    ['tokensOut', 1e13],
  ])('refuses %s = %d and names the field', (field, value) => {
    const result = InteractionSchema.safeParse(anInteraction({ [field]: value }));
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join('.'))).toContain(field);
  });

  it.each([
    [1e20, Number.MAX_SAFE_INTEGER],
    [-1e20, -Number.MAX_SAFE_INTEGER],
    [Number.MAX_SAFE_INTEGER + 2, Number.MAX_SAFE_INTEGER],
    [-32603, -32603],
  ])('keeps an answered call whose server error code is %d (as %d)', (code, recorded) => {
    const result = InteractionSchema.safeParse(anInteraction({ outcome: 'error', error: { code, message: 'boom' } }));
    expect(result.success).toBe(true);
    expect((result.data as { error: { code: number } }).error.code).toBe(recorded);
  });
});

describe('times in an event', () => {
  // Read models sort and compare times as strings: '...:00Z' sorted after '...:00.500Z', a second earlier.
  it.each(['2026-11-25T12:00:00Z', '2026-11-25T12:00:00.5Z', '2026-11-25T12:00:00.000123Z', '2026-11-25T12:00:00.000+00:00'])('refuses %s, with the form it takes', (time) => {
    for (const field of ['ts', 'startedAt', 'endedAt']) {
      const parsed = InteractionSchema.safeParse(anInteraction({ [field]: time }));
      expect(parsed.success).toBe(false);
      expect(parsed.error!.issues[0]).toMatchObject({ path: [field], message: 'an ISO 8601 UTC time with milliseconds, as 2026-11-25T10:00:00.000Z' });
    }
  });
});
