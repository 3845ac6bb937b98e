import { apiRoutes, costRoute, dayRange, dayRangeBuckets, instantRange, latencyRoute, parseInstant } from '../src';

const issues = (result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }) =>
  result.error?.issues.map((issue) => [issue.path.join('.'), issue.message]) ?? [];

describe('the API contract', () => {
  it('declares each route once, by name and by method and path', () => {
    expect(new Set(apiRoutes.map((route) => route.name)).size).toBe(apiRoutes.length);
    expect(new Set(apiRoutes.map((route) => `${route.method} ${route.path}`)).size).toBe(apiRoutes.length);
  });

  it('parses dates one way: a UTC date or an ISO 8601 date-time, never a date that does not exist', () => {
    expect(parseInstant('2026-11-25')).toBe(Date.UTC(2026, 10, 25));
    expect(parseInstant('2026-11-25T13:00Z')).toBe(Date.UTC(2026, 10, 25, 13));
    expect(parseInstant('2026-11-25T13:00:00+02:00')).toBe(Date.UTC(2026, 10, 25, 11));
    for (const bad of ['2026-02-30', '2026-13-01', 'yesterday', '2026-11-25 13:00', '2026-11-25T13:00:00']) expect(parseInstant(bad)).toBeNull();
  });

  it('refuses strictly: an unknown parameter, and filters a route does not keep', () => {
    expect(issues(costRoute.query.safeParse({ colour: 'red' }))).toEqual([['', expect.stringContaining('colour')]]);
    expect(issues(latencyRoute.query.safeParse({ groupBy: 'method', server: 'a' }))).toEqual([['server', expect.stringContaining('server cannot be used here')]]);
    // A time is kept as its instant (the route widens it to its hour), a date as it is.
    expect(costRoute.query.parse({ from: '2026-11-01T10:00:00Z' })).toEqual({ from: '2026-11-01T10:00:00.000Z', groupBy: 'day' });
    expect(costRoute.query.parse({ from: '2026-11-01' })).toEqual({ from: '2026-11-01', groupBy: 'day' });
    // A team's refusal names the team the caller gave, not a user filter it never gave.
    expect(issues(costRoute.query.safeParse({ teamId: 't1', groupBy: 'tool' }))).toEqual([['groupBy', expect.stringContaining('with a team (its users) filter, group by day or user')]]);
  });

  it('reads a date given as a range’s end as that whole day, on every route that takes instants', () => {
    const endOf25th = Date.UTC(2026, 10, 26) - 1;
    for (const route of apiRoutes.filter((candidate) => ['query-latency', 'query-risk-findings', 'query-risk-summary', 'audit'].includes(candidate.name))) {
      // The same day at both ends is that day (latency refused it: from must be before to; risk read nothing).
      expect([route.name, route.query.safeParse({ from: '2026-11-25', to: '2026-11-25' }).data]).toEqual([route.name, expect.objectContaining({ from: Date.UTC(2026, 10, 25), to: endOf25th })]);
    }
    expect(latencyRoute.query.parse({ to: '2026-11-25T13:00:00Z' }).to).toBe(Date.UTC(2026, 10, 25, 13));
  });

  it('keeps each read model’s range limit', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    expect(() => dayRange({ from: '2025-11-24' }, now, 366)).toThrow('at most 366 days');
    expect(dayRange({ from: '2025-11-25' }, now, 366)).toEqual({ from: '2025-11-25', to: '2026-11-25', fromHourMs: null, toHourMs: null });
    expect(() => instantRange({ from: now.getTime() - 93 * 86_400_000 }, now, 92)).toThrow('at most 92 days');
    expect(instantRange({}, now, 92)).toEqual({ fromMs: now.getTime() - 86_400_000, toMs: now.getTime() });
  });
});

describe('a cost range given with times', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  const plan = (from: string, to: string) => {
    const { days, hourRuns } = dayRangeBuckets(dayRange({ from: costRoute.query.parse({ from }).from, to: costRoute.query.parse({ to }).to }, now, 366));
    return { days: ['2026-11-23', '2026-11-24', '2026-11-25'].filter(days), hourRuns };
  };
  it('reads the whole days between, and the hours of an end given as a time', () => {
    expect(plan('2026-11-23', '2026-11-25')).toEqual({ days: ['2026-11-23', '2026-11-24', '2026-11-25'], hourRuns: [] });
    expect(plan('2026-11-25T14:33:00Z', '2026-11-25T14:34:00Z')).toEqual({ days: [], hourRuns: [{ from: '2026-11-25T14', to: '2026-11-25T14' }] });
    expect(plan('2026-11-23T13:30:00Z', '2026-11-25T09:05:00+01:00')).toEqual({
      days: ['2026-11-24'],
      hourRuns: [
        { from: '2026-11-23T13', to: '2026-11-23T23' },
        { from: '2026-11-25T00', to: '2026-11-25T08' },
      ],
    });
    expect(plan('2026-11-24', '2026-11-25T03:00:00Z')).toEqual({ days: ['2026-11-24'], hourRuns: [{ from: '2026-11-25T00', to: '2026-11-25T03' }] });
    expect(() => dayRange({ from: '2026-11-25T14:00:00.000Z', to: '2026-11-25T13:00:00.000Z' }, now, 366)).toThrow('is after');
  });
});
