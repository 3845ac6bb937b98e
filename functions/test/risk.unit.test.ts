import fc from 'fast-check';
import { DAYS_KEPT, expandFindings, filesFindingId, hoursFindingId, KmEventSchema, sessionsProjection, sessionView, type SessionDoc, newEventId, riskProjection, serverDocId, toolFindingId, type KmEvent, type RiskFindingDoc } from '@km/shared';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { makeIngestHandler } from '../src/handlers/ingest';
import {
  makeAckRiskFindingHandler,
  makeQueryRiskFindingsHandler,
  makeQueryRiskSummaryHandler,
  makeResolveRiskFindingHandler,
} from '../src/handlers/risk';
import type { HttpHandler } from '../src/handlers/http-results';
import { fromEmbeddedLog, projectBatch } from '../src/projector';
import { riskWebhook, urgentFindings } from '../src/risk-webhook';
import { anEnvelope, interaction, stored } from './fixtures';
import { anHttpRequest, anInvocationContext, bearer } from './http-fixtures';

const authenticator = new ApiKeyAuthenticator([
  { keyHash: hashApiKey('key-a'), orgId: 'org-a' },
  { keyHash: hashApiKey('key-b'), orgId: 'org-b' },
]);

const envA = anEnvelope({ orgId: 'org-a', sessionId: 's-a', projectId: 'p1', userId: 'ann' });
const leaky = interaction(envA, '2026-05-01T09:00:00.000Z', {
  findings: [
    { ruleId: 'aws-access-key-id', severity: 'critical', path: '$.result.content[0].text' },
    { ruleId: 'card-number', severity: 'high', path: '$.result.content[0].text' },
  ],
  target: 'read_file',
  responsePreview: '{"content":[{"type":"text","text":"[REDACTED:aws-access-key-id] [REDACTED:card-number]"}]}',
});
const rugPull = KmEventSchema.parse({
  ...envA,
  id: newEventId(Date.parse('2026-05-02T09:00:00.000Z')),
  v: 1,
  ts: '2026-05-02T09:00:00.000Z',
  type: 'risk.detected',
  method: 'tools/list',
  target: 'add',
  findings: [{ ruleId: 'rug-pull', severity: 'high', path: '$.result.tools[0].description' }],
  detail: 'the description of tool add changed since this server was last seen',
}) as KmEvent;
const blocked = KmEventSchema.parse({
  ...envA,
  id: newEventId(Date.parse('2026-05-02T10:00:00.000Z')),
  v: 1,
  ts: '2026-05-02T10:00:00.000Z',
  type: 'policy.blocked',
  method: 'tools/call',
  target: 'write_file',
  ruleId: 'policy-deny-tool',
  reason: 'tool write_file is denied by km.json policy.deny.tools ("write_*")',
}) as KmEvent;
const theirs = interaction(anEnvelope({ orgId: 'org-b' }), '2026-05-01T09:00:00.000Z', { findings: [{ ruleId: 'email', severity: 'low', path: '$.params' }] });

async function given(events: KmEvent[]) {
  const readModelStore = new MemoryReadModelStore();
  const eventLog = new MemoryEventLog();
  // One log for the findings and the status events the API appends: the documents record positions in it.
  await eventLog.append(stored(events));
  const deps = { readModelStore, authenticator, eventLog, now: () => new Date('2026-05-03T00:00:00.000Z'), newBatchId: () => 'b1' };
  const call = async (handler: HttpHandler, path: string, params: Record<string, string> = {}, key = 'key-a', method = 'GET') => {
    const response = await handler(anHttpRequest({ path, params, headers: bearer(key), method }), anInvocationContext());
    return { status: response.status, body: response.jsonBody };
  };
  // The sessions read model too: a session's many-files finding is read out of its session document.
  const project = async () => {
    const events = fromEmbeddedLog(await eventLog.read(0, 1000));
    await projectBatch(riskProjection, readModelStore, events);
    await projectBatch(sessionsProjection, readModelStore, events);
  };
  await project();
  return {
    eventLog,
    project,
    findings: (query = '', key?: string) => call(makeQueryRiskFindingsHandler(deps), `/api/risk/findings${query}`, {}, key),
    summary: (key?: string, query = '') => call(makeQueryRiskSummaryHandler(deps), `/api/risk/summary${query}`, {}, key),
    ack: (id: string, key?: string) => call(makeAckRiskFindingHandler(deps), `/api/risk/findings/${id}/ack`, { id }, key, 'POST'),
    resolve: (id: string, key?: string) => call(makeResolveRiskFindingHandler(deps), `/api/risk/findings/${id}/resolve`, { id }, key, 'POST'),
  };
}

const nonAnomalies = (body: { findings: Array<{ kind: string }> }) => body.findings.filter((f) => f.kind !== 'anomaly');

describe('risk read model and API', () => {
  it('given findings in an interaction, a rug pull and a block, lists each as a finding of the caller only', async () => {
    const api = await given([leaky, rugPull, blocked, theirs]);
    const { status, body } = await api.findings();
    expect(status).toBe(200);
    // Newest first; the two findings of one interaction share a time, so their order is the store's.
    expect(nonAnomalies(body).map((f: any) => [f.kind, f.ruleId, f.severity]).sort()).toEqual([
      ['pii', 'card-number', 'high'],
      ['policy', 'policy-deny-tool', 'medium'],
      ['rug_pull', 'rug-pull', 'high'],
      ['secret', 'aws-access-key-id', 'critical'],
    ]);
    expect(nonAnomalies(body).slice(0, 2).map((f: any) => f.ruleId)).toEqual(['policy-deny-tool', 'rug-pull']);
    expect(body.findings.find((f: any) => f.ruleId === 'aws-access-key-id')).toEqual({
      id: `${leaky.id}.0`,
      kind: 'secret',
      ruleId: 'aws-access-key-id',
      severity: 'critical',
      path: '$.result.content[0].text',
      sessionId: 's-a',
      interactionId: leaky.id,
      server: 'everything',
      tool: 'read_file',
      userId: 'ann',
      projectId: 'p1',
      ts: leaky.ts,
      status: 'open',
      preview: leaky.responsePreview,
      detail: 'tools/call read_file',
    });
    expect((await api.findings('', 'key-b')).body.findings.map((f: any) => f.ruleId)).toContain('email');
    expect((await api.findings('', 'key-b')).body.findings.map((f: any) => f.ruleId)).not.toContain('card-number');
  });

  it('filters by severity, kind, status and time, and answers readable 400s', async () => {
    const api = await given([leaky, rugPull, blocked]);
    expect((await api.findings('?severity=critical')).body.findings.map((f: any) => f.ruleId)).toEqual(['aws-access-key-id']);
    expect((await api.findings('?kind=rug_pull')).body.findings.map((f: any) => f.ruleId)).toEqual(['rug-pull']);
    expect(nonAnomalies((await api.findings('?from=2026-05-02&to=2026-05-02T09:30:00Z')).body).map((f: any) => f.ruleId)).toEqual(['rug-pull']);
    expect(await api.findings('?severity=urgent')).toMatchObject({ status: 400, body: { error: expect.stringContaining('severity must be one of low, medium, high, critical') } });
    expect(await api.findings('?from=yesterday')).toMatchObject({ status: 400, body: { error: expect.stringContaining('from must be an ISO 8601 date-time') } });
    expect(await api.findings('?from=2026-05-03&to=2026-05-01')).toMatchObject({ status: 400 });
    expect(await api.findings('?kind=weird')).toMatchObject({ status: 400 });
  });

  it('honours the project, user, server and tool filters the dashboard sends, in the list and in the summary', async () => {
    const other = interaction(anEnvelope({ orgId: 'org-a', projectId: 'p2', userId: 'bob', sessionId: 's-b', server: { name: 'memory', command: 'm' } }), '2026-05-02T11:00:00.000Z', {
      target: 'search',
      findings: [{ ruleId: 'email', severity: 'low', path: '$.params' }],
    });
    const api = await given([leaky, rugPull, other]);
    const rules = async (query: string) => nonAnomalies((await api.findings(query)).body).map((f: any) => f.ruleId).sort();
    expect(await rules('?projectId=p2')).toEqual(['email']);
    expect(await rules('?userId=ann')).toEqual(['aws-access-key-id', 'card-number', 'rug-pull']);
    expect(await rules('?server=memory&tool=search')).toEqual(['email']);
    expect(await rules('?server=memory&tool=read_file')).toEqual([]);
    // A past window with a small limit: findings newer than `to` (other's anomaly) must not take its slots.
    const past = (await api.findings('?to=2026-05-01T23:00:00Z&limit=1')).body.findings;
    expect(past).toHaveLength(1);
    expect(past[0].ts < '2026-05-01T23:00:00Z').toBe(true);
    // Anomalies (first use of a tool) are narrowed the same way.
    expect((await api.findings('?projectId=p2&kind=anomaly')).body.findings.every((f: any) => f.projectId === 'p2')).toBe(true);

    const all = (await api.summary()).body;
    const p2 = (await api.summary(undefined, '?projectId=p2')).body;
    expect(p2.open).toBeLessThan(all.open);
    expect(p2.byRule.find((r: any) => r.ruleId === 'email')).toEqual({ ruleId: 'email', count: 1 });
    expect(p2.byRule.find((r: any) => r.ruleId === 'card-number')).toBeUndefined();
    const late = (await api.summary(undefined, '?from=2026-05-02T10:30:00Z')).body;
    expect(late.byDay.map((d: any) => d.day)).toEqual(['2026-05-02']);
    expect(late.byRule.map((r: any) => r.ruleId)).not.toContain('card-number');
    expect(await api.summary(undefined, '?severity=high')).toMatchObject({ status: 400, body: { error: expect.stringContaining('severity cannot be used here') } });
    expect(await api.summary(undefined, '?from=soon')).toMatchObject({ status: 400 });
  });

  it('ack and resolve append server-made events; the fold changes the status; other orgs get a 404', async () => {
    const api = await given([leaky, rugPull]);
    const id = `${leaky.id}.0`;
    expect(await api.ack(id, 'key-b')).toMatchObject({ status: 404 });
    const acked = await api.ack(id);
    expect(acked).toMatchObject({ status: 200, body: { id, status: 'acknowledged', ruleId: 'aws-access-key-id' } });
    await api.project();
    expect((await api.findings('?status=acknowledged')).body.findings.map((f: any) => f.id)).toEqual([id]);
    await api.resolve(id);
    await api.project();
    expect((await api.findings('?status=resolved')).body.findings.map((f: any) => f.id)).toEqual([id]);
    const summary = (await api.summary()).body;
    expect(summary.bySeverity).toMatchObject({ critical: 0, high: 2 });
    expect(summary.byRule).toEqual(expect.arrayContaining([{ ruleId: 'card-number', count: 1 }, { ruleId: 'rug-pull', count: 1 }]));
    expect(summary.byDay.map((d: any) => d.day)).toEqual(['2026-05-01', '2026-05-02']);
    expect(summary.anomalies.map((a: any) => a.ruleId)).toEqual(expect.arrayContaining(['anomaly-first-use']));
    expect(summary.open).toBe(summary.bySeverity.low + summary.bySeverity.medium + summary.bySeverity.high + summary.bySeverity.critical);
  });

  it("lists a tool's anomaly read out of its server's document under its own id, and acks it there", async () => {
    const api = await given([leaky]);
    const findingId = toolFindingId('p1', 'everything', 'read_file');
    const listed = (await api.findings('?kind=anomaly')).body.findings;
    expect(listed.map((f: any) => [f.id, f.tool, f.ruleId])).toEqual(
      expect.arrayContaining([[findingId, 'read_file', 'anomaly-first-use'], [serverDocId('p1', 'everything'), null, 'anomaly-first-use']]),
    );
    expect(await api.ack(findingId)).toMatchObject({ status: 200, body: { id: findingId, status: 'acknowledged', tool: 'read_file' } });
    await api.project();
    expect((await api.findings('?status=acknowledged')).body.findings.map((f: any) => f.id)).toEqual([findingId]);
    const anomalies = (await api.summary()).body.anomalies.map((a: any) => a.id);
    expect(anomalies).not.toContain(findingId);
    expect(anomalies).toContain(serverDocId('p1', 'everything'));
    expect(await api.ack('anomaly-unknown')).toMatchObject({ status: 404 });
  });

  it("lists a user's unusual hours read out of the org's hour documents, and acks it under the user's finding id", async () => {
    const env = anEnvelope({ orgId: 'org-a', sessionId: 's-owl', projectId: 'p1', userId: 'owl' });
    const day = Array.from({ length: 250 }, (_, i) => interaction(env, `2026-05-${String((i % 20) + 1).padStart(2, '0')}T${String(9 + (i % 8)).padStart(2, '0')}:00:00.000Z`));
    const night = interaction(env, '2026-05-01T03:12:00.000Z');
    const api = await given([...day, night]);
    const findingId = hoursFindingId('owl');
    const hours = (await api.findings('?kind=anomaly&userId=owl')).body.findings.filter((f: any) => f.ruleId === 'anomaly-unusual-hours');
    expect(hours).toEqual([expect.objectContaining({ id: findingId, userId: 'owl', status: 'open', ts: night.startedAt })]);
    expect(await api.ack(findingId)).toMatchObject({ status: 200, body: { id: findingId, status: 'acknowledged' } });
    await api.project();
    expect((await api.findings('?status=acknowledged')).body.findings.map((f: any) => f.id)).toEqual([findingId]);
    expect((await api.summary()).body.anomalies.map((a: any) => a.id)).not.toContain(findingId);
  });

  it("lists a session's many files read out of its session document, and acks it under the session's finding id", async () => {
    const env = anEnvelope({ orgId: 'org-a', sessionId: 'busy', projectId: 'p1', userId: 'ann' });
    const reads = Array.from({ length: 55 }, (_, i) => interaction(env, `2026-05-01T10:00:${String(i).padStart(2, '0')}.000Z`, { target: 'read_text_file', requestPreview: JSON.stringify({ name: 'read_text_file', arguments: { path: `/repo/f-${i}.ts` } }) }));
    const api = await given(reads);
    const findingId = filesFindingId('busy');
    const files = (await api.findings('?kind=anomaly&projectId=p1')).body.findings.filter((f: any) => f.ruleId === 'anomaly-many-files');
    expect(files).toEqual([expect.objectContaining({ id: findingId, sessionId: 'busy', userId: 'ann', status: 'open', ts: reads[0]!.ts })]);
    expect((await api.findings('?kind=anomaly', 'key-b')).body.findings).toEqual([]);
    expect(await api.ack(findingId)).toMatchObject({ status: 200, body: { id: findingId, status: 'acknowledged' } });
    await api.project();
    expect((await api.findings('?status=acknowledged')).body.findings.map((f: any) => f.id)).toEqual([findingId]);
  });

  it("keeps the status an older version's event gave a tool finding (no documentId) when the log is folded anew", async () => {
    const call = interaction(envA, '2026-05-01T09:00:00.000Z', { target: 'search' });
    const findingId = toolFindingId('p1', 'everything', 'search');
    const oldAck = { id: newEventId(Date.parse('2026-05-02T00:00:00.000Z')), v: 1, ts: '2026-05-02T00:00:00.000Z', type: 'risk.finding_status', orgId: 'org-a', findingId, status: 'acknowledged' } as unknown as KmEvent;
    const api = await given([call, oldAck]);
    const tool = (await api.findings('?kind=anomaly')).body.findings.filter((f: any) => f.id === findingId);
    expect(tool).toEqual([expect.objectContaining({ status: 'acknowledged', tool: 'search' })]);
  });

  it('says when there were more open findings than a summary counts (the newest 10,000), rather than passing 10,000 off as all', async () => {
    const calls = (n: number) => Array.from({ length: n }, (_, i) => interaction(envA, new Date(Date.parse('2026-05-01T00:00:00.000Z') + i * 1000).toISOString(), { findings: Array.from({ length: 100 }, () => ({ ruleId: 'email', severity: 'low', path: '$.params' })) }));
    const summaryOf = async (events: KmEvent[]) => {
      const readModelStore = new MemoryReadModelStore();
      await projectBatch(riskProjection, readModelStore, fromEmbeddedLog(stored(events).map((event, i) => ({ position: i + 1, event }))));
      const handler = makeQueryRiskSummaryHandler({ readModelStore, authenticator, eventLog: new MemoryEventLog(), now: () => new Date(), newBatchId: () => 'b' });
      return (await handler(anHttpRequest({ path: '/api/risk/summary', headers: bearer('key-a') }), anInvocationContext())).jsonBody;
    };
    // 9,900 found in calls, and the first uses of the server and its tool (anomalies): all counted.
    const under = await summaryOf(calls(99));
    expect(under).toMatchObject({ complete: true, byRule: expect.arrayContaining([{ ruleId: 'email', count: 9_900 }]) });
    expect(under.open).toBe(9_900 + under.anomalies.length);
    const over = await summaryOf(calls(101));
    expect(over).toMatchObject({ open: 10_000, complete: false });
    // The newest are the ones counted: the first call's day is the oldest.
    expect(over.byDay.reduce((sum: number, day: { count: number }) => sum + day.count, 0)).toBe(10_000);
  });

  it('counts every status of a derived finding, and says a summary is not complete when a scan of derived findings filled its limit', async () => {
    const readModelStore = new MemoryReadModelStore();
    const sessions = 10_005;
    // Sessions that touched many files (each a many-files finding, read out of its session document), every one acknowledged.
    for (let i = 0; i < sessions; i++) {
      const id = `busy-${i}`;
      const firstSeenAt = new Date(Date.parse('2026-05-01T00:00:00.000Z') + i * 1000).toISOString();
      const files = Array.from({ length: 60 }, (_, n) => String(n).padStart(16, '0'));
      await readModelStore.upsert('sessions', 'org-a', id, { id, orgId: 'org-a', manyFiles: true, firstSeenAt, projectId: 'p1', userId: 'ann', server: { name: 'files' }, files, filesSince: firstSeenAt });
      const ack = { id: newEventId(Date.parse('2026-05-02T00:00:00.000Z') + i), v: 1, ts: '2026-05-02T00:00:00.000Z', type: 'risk.finding_status', orgId: 'org-a', findingId: filesFindingId(id), status: 'acknowledged' } as unknown as KmEvent;
      await readModelStore.upsert('risk', 'org-a', filesFindingId(id), riskProjection.evolve(null, ack as never, filesFindingId(id)));
    }
    const handler = makeQueryRiskSummaryHandler({ readModelStore, authenticator, eventLog: new MemoryEventLog(), now: () => new Date(), newBatchId: () => 'b' });
    const summary = (await handler(anHttpRequest({ path: '/api/risk/summary', headers: bearer('key-a') }), anInvocationContext())).jsonBody;
    // The newest 10,000 sessions are read, so the summary says it may miss some; none reads open again for want of its status.
    expect(summary).toMatchObject({ complete: false, open: 0 });
  });

  it('ingest refuses server-only event types from clients', async () => {
    const eventLog = new MemoryEventLog();
    const handler = makeIngestHandler({ eventLog, readModelStore: new MemoryReadModelStore(), authenticator, now: () => new Date(), newBatchId: () => 'b' });
    const forged = { ...envA, id: newEventId(), v: 1, ts: new Date().toISOString(), type: 'risk.finding_status', findingId: 'x.0', status: 'resolved' };
    const response = await handler(anHttpRequest({ path: '/api/ingest', method: 'POST', headers: bearer('key-a'), body: JSON.stringify({ events: [forged] }) }), anInvocationContext());
    expect(response.status).toBe(400);
    expect(response.jsonBody.issues).toEqual([{ index: 0, path: 'events[0].type', message: expect.stringContaining('server only') }]);
    expect(await eventLog.read(0, 10)).toEqual([]);
  });
});

describe('risk fold', () => {
  const fold = (events: KmEvent[], docId: string) => events.reduce<RiskFindingDoc | null>((s, e) => riskProjection.evolve(s, e, docId), null);
  const statusEvent = (status: 'acknowledged' | 'resolved', at: string) =>
    ({ ...envA, id: newEventId(Date.parse(at)), v: 1, ts: at, type: 'risk.finding_status', findingId: `${leaky.id}.0`, status }) as KmEvent;

  it('is order-independent and idempotent, a status event may come first', () => {
    const ack = statusEvent('acknowledged', '2026-05-02T00:00:00.000Z');
    const resolve = statusEvent('resolved', '2026-05-03T00:00:00.000Z');
    const id = `${leaky.id}.0`;
    const a = fold([leaky, ack, resolve], id);
    const b = fold([resolve, leaky, ack, leaky, resolve], id);
    expect({ ...b, applied: [] }).toEqual({ ...a, applied: [] });
    expect(a!.status).toBe('resolved');
  });

  /** A tool's finding, read out of its server's document. */
  const toolFinding = (server: RiskFindingDoc, tool: string) => expandFindings([server]).find((f) => f.tool === tool)!;

  it('flags call volume far above the trailing baseline and error bursts', () => {
    const env = anEnvelope({ orgId: 'org-a', projectId: 'p9' });
    const events: KmEvent[] = [];
    for (let d = 1; d <= 7; d++) events.push(interaction(env, `2026-05-0${d}T10:00:00.000Z`, { target: 'search' }));
    for (let i = 0; i < 60; i++) events.push(interaction(env, `2026-05-08T10:00:${String(i).padStart(2, '0')}.000Z`, { target: 'search' }));
    const docId = serverDocId('p9', env.server.name);
    expect(riskProjection.docIds(events[0]!).filter((id) => id.startsWith('anomaly-') && !id.startsWith('anomaly-hour'))).toEqual([docId]);
    const forwards = fold(events, docId)!;
    const backwards = fold([...events].reverse(), docId)!;
    expect(toolFinding(forwards, 'search')).toMatchObject({ id: toolFindingId('p9', env.server.name, 'search'), ruleId: 'anomaly-volume-spike', kind: 'anomaly', day: '2026-05-08' });
    expect(forwards).toMatchObject({ ruleId: 'anomaly-volume-spike', tool: null });
    expect({ ...backwards, applied: [] }).toEqual({ ...forwards, applied: [] });
    expect(riskProjection.evolveBatch!(null, events, docId)).toEqual(forwards);

    const failing = Array.from({ length: 12 }, (_, i) => interaction(env, `2026-05-09T10:00:${String(i).padStart(2, '0')}.000Z`, { target: 'flaky', outcome: 'error', error: { code: -32000, message: 'x' } }));
    expect(toolFinding(fold(failing, docId)!, 'flaky')).toMatchObject({ ruleId: 'anomaly-error-burst', severity: 'medium' });
  });

  it('names no user or session for a spike or a burst (many calls, perhaps many users), so a user filter never shows it to the first caller', async () => {
    const ann = anEnvelope({ orgId: 'org-a', projectId: 'p9', userId: 'ann', sessionId: 's-ann' });
    const bob = anEnvelope({ orgId: 'org-a', projectId: 'p9', userId: 'bob', sessionId: 's-bob', server: ann.server });
    const events: KmEvent[] = [];
    for (let d = 1; d <= 7; d++) events.push(interaction(ann, `2026-05-0${d}T10:00:00.000Z`, { target: 'search' }));
    for (let i = 0; i < 60; i++) events.push(interaction(bob, `2026-05-08T10:00:${String(i).padStart(2, '0')}.000Z`, { target: 'search' }));
    const api = await given(events);
    const spikes = async (query: string) => (await api.findings(`?kind=anomaly${query}`)).body.findings.filter((f: any) => f.ruleId === 'anomaly-volume-spike');
    expect((await spikes('')).map((f: any) => ({ tool: f.tool, userId: f.userId, sessionId: f.sessionId }))).toEqual(
      expect.arrayContaining([{ tool: null, userId: null, sessionId: null }, { tool: 'search', userId: null, sessionId: null }]),
    );
    // It used to be ann's (the first caller ever), whose one call a day made none of it.
    expect(await spikes('&userId=ann')).toEqual([]);
    // A server document stored before, its spike still naming ann, reads as naming nobody until it is folded again.
    const stored = fold(events, serverDocId('p9', ann.server.name))!;
    const before = { ...stored, userId: 'ann', sessionId: 's-ann', interactionId: events[0]!.id };
    expect(expandFindings([before]).find((f) => f.id === stored.id)).toMatchObject({ ruleId: 'anomaly-volume-spike', userId: null, sessionId: null, interactionId: null });
    // A first use is one call's, and stays the caller's.
    const firstUse = interaction(ann, '2026-05-01T10:00:00.000Z', { target: 'search' });
    expect(toolFinding(fold([firstUse], serverDocId('p9', ann.server.name))!, 'search')).toMatchObject({ ruleId: 'anomaly-first-use', userId: 'ann', sessionId: 's-ann', interactionId: firstUse.id });
  });

  it('keeps a server’s own finding apart from a tool its server named `*`', () => {
    const env = anEnvelope({ orgId: 'org-a', projectId: 'p9' });
    const docId = serverDocId('p9', env.server.name);
    expect(toolFindingId('p9', env.server.name, '*')).not.toBe(docId);
    const events: KmEvent[] = [];
    for (let d = 1; d <= 7; d++) events.push(interaction(env, `2026-05-0${d}T10:00:00.000Z`, { target: 'search' }));
    for (let i = 0; i < 60; i++) events.push(interaction(env, `2026-05-08T10:00:${String(i).padStart(2, '0')}.000Z`, { target: 'search' }));
    events.push(interaction(env, '2026-05-08T11:00:00.000Z', { target: '*' }));
    const findings = expandFindings([fold(events, docId)!]);
    // The server's spike, of its 68 calls; the tool `*` its own first use, of its one call.
    expect(findings.find((f) => f.id === docId)).toMatchObject({ tool: null, ruleId: 'anomaly-volume-spike', detail: expect.stringContaining('61 calls to server') });
    expect(findings.find((f) => f.tool === '*')).toMatchObject({ id: toolFindingId('p9', env.server.name, '*'), ruleId: 'anomaly-first-use' });
  });

  it('reports no first use of a tool whose every call failed (a name the server does not have), until one succeeds', () => {
    const env = anEnvelope({ orgId: 'org-a', projectId: 'p9' });
    const docId = serverDocId('p9', env.server.name);
    // The MCP SDK answers an unknown tool with a tool error; other servers with -32602.
    const unknown = [
      interaction(env, '2026-05-09T10:00:00.000Z', { target: 'no_such_tool', outcome: 'tool_error' }),
      interaction(env, '2026-05-09T10:00:01.000Z', { target: 'no_such_tool', outcome: 'error', error: { code: -32602, message: 'Tool no_such_tool not found' } }),
    ];
    const refused = fold(unknown, docId)!;
    expect(expandFindings([refused]).map((f) => f.tool ?? '*')).toEqual(['*']);
    expect(refused.anomaly!.tools!.no_such_tool!.calls).toEqual({ '2026-05-09': 2 });
    // One that worked, in any order, makes it a used tool: its first use is its first call.
    const worked = interaction(env, '2026-05-09T10:00:02.000Z', { target: 'no_such_tool' });
    for (const events of [[...unknown, worked], [worked, ...unknown]]) {
      expect(toolFinding(fold(events, docId)!, 'no_such_tool')).toMatchObject({ ruleId: 'anomaly-first-use', ts: unknown[0]!.startedAt });
    }
  });

  it("folds a server's document the same in one batch as one event at a time, in any order (fast-check)", () => {
    const env = anEnvelope({ orgId: 'org-a', projectId: 'p9' });
    const docId = serverDocId('p9', env.server.name);
    const anEvent = fc.record({ day: fc.nat({ max: 40 }), second: fc.nat({ max: 59 }), tool: fc.constantFrom('search', '__proto__', 'constructor'), failed: fc.boolean(), status: fc.constantFrom(null, 'acknowledged', 'resolved') }).map(({ day, second, tool, failed, status }) => {
      const at = new Date(Date.UTC(2026, 4, 1 + day, 10, 0, second)).toISOString();
      if (status) return { ...envA, id: newEventId(Date.parse(at)), v: 1, ts: at, type: 'risk.finding_status', findingId: toolFindingId('p9', env.server.name, tool), status, documentId: docId } as KmEvent;
      return interaction(env, at, { target: tool, outcome: failed ? 'error' : 'ok', error: failed ? { code: -32000, message: 'x' } : null });
    });
    fc.assert(
      fc.property(fc.array(anEvent, { minLength: 1, maxLength: 60 }), fc.nat(), (events, seed) => {
        const shuffled = fc.sample(fc.shuffledSubarray(events, { minLength: events.length }), { numRuns: 1, seed })[0]!;
        const oneByOne = fold(shuffled, docId);
        const batch = riskProjection.evolveBatch!(null, events, docId);
        expect(JSON.parse(JSON.stringify(batch))).toEqual(JSON.parse(JSON.stringify(oneByOne)));
        expect(expandFindings([batch])).toEqual(expandFindings([oneByOne!]));
        for (const counts of Object.values(batch.anomaly?.tools ?? {})) expect(Object.keys(counts.calls).length).toBeLessThanOrEqual(DAYS_KEPT);
      }),
      { numRuns: 100, seed: 11 },
    );
  });

  it('keeps the newest days of use only, and judges no spike on a day whose baseline was dropped', () => {
    const env = anEnvelope({ orgId: 'org-a', projectId: 'p9' });
    const day = (d: number) => new Date(Date.UTC(2026, 4, 1) + d * 86_400_000).toISOString();
    // A heavy first day, then a quiet one per day: no day after it is a spike, whichever days are kept.
    const events = [...Array.from({ length: 60 }, (_, i) => interaction(env, day(0).replace('00:00.000', `00:${String(i).padStart(2, '0')}.000`), { target: 'search' }))];
    for (let d = 1; d < 30; d++) events.push(interaction(env, day(d), { target: 'search' }), interaction(env, day(d), { target: 'search' }));
    const docId = serverDocId('p9', env.server.name);
    const doc = fold(events, docId)!;
    const counts = doc.anomaly!.tools!.search!;
    expect(Object.keys(counts.calls)).toHaveLength(DAYS_KEPT);
    expect(counts.trimmed).toBe(true);
    expect(toolFinding(doc, 'search')).toMatchObject({ ruleId: 'anomaly-first-use', ts: events[0]!.startedAt });
    expect({ ...fold([...events].reverse(), docId)!, applied: [] }).toEqual({ ...doc, applied: [] });
  });

  it('counts tools named like Object.prototype properties in their own entries', () => {
    const env = anEnvelope({ orgId: 'org-a', projectId: 'p9' });
    const events = ['__proto__', 'constructor', 'toString'].map((tool, i) => interaction(env, `2026-05-01T10:00:0${i}.000Z`, { target: tool }));
    const doc = fold(events, serverDocId('p9', env.server.name))!;
    const fromJson = JSON.parse(JSON.stringify(doc)) as RiskFindingDoc;
    for (const stored of [doc, fromJson]) {
      expect(expandFindings([stored]).map((f) => f.tool ?? '*').sort()).toEqual(['*', '__proto__', 'constructor', 'toString']);
    }
    expect(Object.getOwnPropertyDescriptor(fromJson.anomaly!.tools!, '__proto__')?.value.calls).toEqual({ '2026-05-01': 1 });
  });

  it("takes a tool finding's status from the newest status event, even one that came before its first call", () => {
    const env = anEnvelope({ orgId: 'org-a', projectId: 'p9' });
    const call = interaction(env, '2026-05-01T10:00:00.000Z', { target: 'search' });
    const docId = serverDocId('p9', env.server.name);
    const findingId = toolFindingId('p9', env.server.name, 'search');
    const mark = (status: 'acknowledged' | 'resolved', at: string) =>
      ({ ...envA, id: newEventId(Date.parse(at)), v: 1, ts: at, type: 'risk.finding_status', findingId, status, documentId: docId }) as KmEvent;
    const ack = mark('acknowledged', '2026-05-02T00:00:00.000Z');
    const resolve = mark('resolved', '2026-05-03T00:00:00.000Z');
    expect(riskProjection.docIds(ack)).toEqual([docId]);
    const a = fold([ack, call, resolve], docId)!;
    const b = fold([resolve, call, ack], docId)!;
    expect(b).toEqual(a);
    expect(toolFinding(a, 'search')).toMatchObject({ id: findingId, status: 'resolved', holderId: docId });
    // The server's own finding keeps its own status.
    expect(a.status).toBe('open');
  });

  it('merges a per-tool document of an older km.db into the tool finding: one finding, counts added, the newer status', () => {
    const env = anEnvelope({ orgId: 'org-a', projectId: 'p9' });
    const findingId = toolFindingId('p9', env.server.name, 'search');
    const earlier = interaction(env, '2026-04-30T10:00:00.000Z', { target: 'search' });
    const before = riskProjection.evolve(null, earlier, serverDocId('p9', env.server.name));
    // As the fold wrote them before: the tool's own counts in its own document.
    const old: RiskFindingDoc = {
      ...before,
      anomaly: before.anomaly!.tools!.search!,
      id: findingId,
      tool: 'search',
      status: 'acknowledged',
      statusEventId: newEventId(Date.parse('2026-04-30T12:00:00.000Z')),
      statusChangedAt: '2026-04-30T12:00:00.000Z',
    };
    const server = fold([interaction(env, '2026-05-01T10:00:00.000Z', { target: 'search' })], serverDocId('p9', env.server.name))!;
    const findings = expandFindings([server, old]);
    expect(findings.filter((f) => f.id === findingId)).toEqual([
      expect.objectContaining({ status: 'acknowledged', ruleId: 'anomaly-first-use', ts: earlier.startedAt, interactionId: earlier.id }),
    ]);
    // The same, from a server document a store shared frozen (its tools' findings are then kept per document).
    const frozen = deepFrozen(structuredClone(server));
    expect(expandFindings([frozen, old])).toEqual(findings);
    expect(expandFindings([frozen, old])).toEqual(findings);
  });

  it('expands a frozen server document the same on every read, and a newer version of it by its own counts', () => {
    const env = anEnvelope({ orgId: 'org-a', projectId: 'p9' });
    const id = serverDocId('p9', env.server.name);
    const calls = Array.from({ length: 3 }, (_, i) => interaction(env, `2026-05-0${i + 1}T10:00:00.000Z`, { target: i === 2 ? 'write' : 'search' }));
    const first = deepFrozen(fold(calls.slice(0, 2), id)!);
    const listed = expandFindings([first]);
    expect(listed.map((f) => f.tool)).toEqual([null, 'search']);
    expect(expandFindings([first])).toEqual(listed);
    const next = deepFrozen(fold(calls, id)!);
    expect(expandFindings([next]).map((f) => f.tool)).toEqual([null, 'search', 'write']);
    expect(expandFindings([first])).toEqual(listed);
  });
});

function deepFrozen<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFrozen((value as Record<string, unknown>)[key]);
  }
  return value;
}

describe('the high-severity webhook', () => {
  const logger = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };

  it('posts high and critical findings without previews, retrying server errors, never throwing', async () => {
    const calls: any[] = [];
    const responses = [new Response('', { status: 503 }), new Response('', { status: 200 })];
    const notify = riskWebhook({ url: 'http://hook.test/x', logger, backoffMs: 1, fetch: (async (_url: string, init: any) => {
      calls.push(JSON.parse(init.body));
      return responses.shift()!;
    }) as any });
    notify(stored([leaky, theirs]));
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toHaveLength(2);
    expect(calls[0].findings.map((f: any) => [f.id, f.ruleId, f.severity, f.kind])).toEqual([
      [`${leaky.id}.0`, 'aws-access-key-id', 'critical', 'secret'],
      [`${leaky.id}.1`, 'card-number', 'high', 'pii'],
    ]);
    expect(JSON.stringify(calls[0])).not.toContain('REDACTED');
    expect(urgentFindings(stored([theirs]))).toEqual([]);
  });

  it('announces a finding once, even when its batch is re-sent (a crash between ship and ack)', async () => {
    const calls: any[] = [];
    const notify = riskWebhook({ url: 'http://hook.test/x', logger, backoffMs: 1, fetch: (async (_url: string, init: any) => {
      calls.push(JSON.parse(init.body));
      return new Response('', { status: 200 });
    }) as any });
    notify(stored([leaky]));
    notify(stored([leaky]));
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toHaveLength(1);
  });

  it('gives up quietly when the receiver is down', async () => {
    const notify = riskWebhook({ url: 'http://hook.test/x', logger, attempts: 2, backoffMs: 1, fetch: (async () => { throw new Error('ECONNREFUSED'); }) as any });
    expect(() => notify(stored([leaky]))).not.toThrow();
    await new Promise((r) => setTimeout(r, 50));
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('gave up on 2 finding(s)'));
  });
});

describe('anomalies: many files in a session, unusual hours', () => {
  const fold = (events: KmEvent[], docId: string) => events.reduce<RiskFindingDoc | null>((s, e) => riskProjection.evolve(s, e, docId), null);
  const idOf = (event: KmEvent, prefix: string) => riskProjection.docIds(event).find((id) => id.startsWith(prefix))!;

  const sessionOf = (events: KmEvent[]) => events.reduce<SessionDoc | null>((s, e) => sessionsProjection.evolve(s, e, e.sessionId), null)!;
  const filesFindings = (session: SessionDoc, risk: RiskFindingDoc[] = []) => expandFindings(risk, [session]).filter((doc) => doc.ruleId === 'anomaly-many-files');

  it('flags a session touching many distinct files, whatever the order, without storing the paths', () => {
    const env = anEnvelope({ orgId: 'org-a', sessionId: 'busy' });
    const reads = Array.from({ length: 60 }, (_, i) =>
      interaction(env, `2026-05-01T10:00:${String(i).padStart(2, '0')}.000Z`, { target: 'read_text_file', requestPreview: JSON.stringify({ name: 'read_text_file', arguments: { path: `/repo/src/file-${i % 55}.ts` } }) }),
    );
    // Counted in the session's document (sessions read model), not in a risk document per session.
    expect(riskProjection.docIds(reads[0]!).filter((id) => id.startsWith('anomaly-files-'))).toEqual([]);
    const session = sessionOf(reads);
    expect(session.manyFiles).toBe(true);
    const [doc, ...others] = filesFindings(session);
    expect(others).toEqual([]);
    expect(doc).toMatchObject({ id: filesFindingId('busy'), detected: true, ruleId: 'anomaly-many-files', kind: 'anomaly', sessionId: 'busy', ts: reads[0]!.ts, detail: '55 distinct files touched in one session' });
    // A later call touching only files already counted changes no hash.
    const again = interaction(env, '2026-05-01T11:00:00.000Z', { target: 'read_text_file', requestPreview: reads[3]!.type === 'mcp.interaction' ? reads[3]!.requestPreview : null });
    expect(sessionsProjection.evolve(session, again, 'busy').files).toEqual(session.files);
    expect(JSON.stringify(session)).not.toContain('/repo/src');
    expect(JSON.stringify(sessionView(session))).not.toContain(session.files![0]!);
    expect(filesFindings(sessionOf([...reads].reverse()))).toEqual([doc]);
    expect(sessionOf(reads.slice(0, 10)).manyFiles).toBeUndefined();
    expect(filesFindings(sessionOf(reads.slice(0, 10)))).toEqual([]);
  });

  it("adds a session's risk document of an older store to its files, and keeps that document's status", () => {
    const env = anEnvelope({ orgId: 'org-a', sessionId: 'busy' });
    const read = (i: number) => interaction(env, `2026-05-01T10:00:${String(i).padStart(2, '0')}.000Z`, { target: 'read_text_file', requestPreview: JSON.stringify({ name: 'read_text_file', arguments: { path: `/repo/file-${i}.ts` } }) });
    const before = Array.from({ length: 30 }, (_, i) => read(i));
    const after = Array.from({ length: 30 }, (_, i) => read(i + 30));
    // What an older version stored for the first 30 calls: a risk document of the session's files, acknowledged.
    const oldFiles = sessionOf(before).files!;
    const older = { ...blankFinding(filesFindingId('busy')), ruleId: 'anomaly-many-files', sessionId: 'busy', ts: before[0]!.ts, status: 'acknowledged', statusEventId: '0190a000-0000-7000-8000-000000000000', statusChangedAt: '2026-05-02T00:00:00.000Z', anomaly: { calls: {}, errors: {}, first: null, files: oldFiles } } as RiskFindingDoc;
    const [merged] = filesFindings({ ...sessionOf(after), manyFiles: true }, [older]);
    expect(merged).toMatchObject({ ts: before[0]!.ts, status: 'acknowledged', detail: '60 distinct files touched in one session' });
  });

  /** Every risk document the events touch, folded one event at a time (a fresh fold per document id). */
  const foldAll = (events: KmEvent[]) => {
    const docs = new Map<string, RiskFindingDoc>();
    for (const event of events) for (const id of riskProjection.docIds(event)) docs.set(id, riskProjection.evolve(docs.get(id) ?? null, event, id));
    return docs;
  };
  const hoursOf = (docs: Map<string, RiskFindingDoc>) => expandFindings([...docs.values()]).filter((doc) => doc.ruleId === 'anomaly-unusual-hours');

  it('flags calls in an hour the user almost never works in', () => {
    const env = anEnvelope({ orgId: 'org-a', userId: 'owl' });
    const day = Array.from({ length: 250 }, (_, i) => interaction(env, `2026-05-${String((i % 20) + 1).padStart(2, '0')}T${String(9 + (i % 8)).padStart(2, '0')}:00:00.000Z`));
    const night = interaction(env, '2026-05-21T03:12:00.000Z');
    expect(hoursOf(foldAll(day))).toEqual([]);
    const [doc, ...others] = hoursOf(foldAll([night, ...day]));
    expect(others).toEqual([]);
    expect(doc).toMatchObject({ id: hoursFindingId('owl'), detected: true, ruleId: 'anomaly-unusual-hours', severity: 'low', ts: night.startedAt, userId: 'owl' });
    expect(doc!.detail).toContain('03:00 UTC');
    // the same in any order
    expect(hoursOf(foldAll([...day, night].reverse()))).toEqual([doc]);
  });

  it("keeps a user's hours in the org's document of each hour of the day: a call writes one, whoever the user", () => {
    const calls = ['ann', 'bob', 'cy'].map((user) => interaction(anEnvelope({ orgId: 'org-a', userId: user }), '2026-05-21T03:12:00.000Z'));
    const ids = (event: KmEvent) => riskProjection.docIds(event).filter((id) => id.startsWith('anomaly-hour'));
    expect(new Set(calls.flatMap(ids))).toEqual(new Set(['anomaly-hour-of-day-03']));
    const doc = foldAll(calls).get('anomaly-hour-of-day-03')!;
    expect(doc.detected).toBe(false);
    expect(Object.keys(doc.anomaly!.users!).sort()).toEqual(['ann', 'bob', 'cy']);
  });

  it("adds a user's own hours document of an older km.db to the hour documents, and keeps its status", () => {
    const env = anEnvelope({ orgId: 'org-a', userId: 'owl' });
    const day = Array.from({ length: 250 }, (_, i) => interaction(env, `2026-05-${String((i % 20) + 1).padStart(2, '0')}T${String(9 + (i % 8)).padStart(2, '0')}:00:00.000Z`));
    const night = interaction(env, '2026-05-21T03:12:00.000Z');
    const newer = foldAll([night, ...day]);
    // What an older version stored for the first 150 day calls: one document per user, its status acknowledged.
    const older = day.slice(0, 150);
    const hours = new Array<number>(24).fill(0);
    const lastByHour = new Array<string>(24).fill('');
    for (const e of older as Array<Extract<KmEvent, { type: 'mcp.interaction' }>>) {
      const h = Number(e.startedAt.slice(11, 13));
      hours[h]!++;
      if (e.startedAt > lastByHour[h]!) lastByHour[h] = e.startedAt;
    }
    const oldDoc = {
      ...[...newer.values()][0]!,
      id: hoursFindingId('owl'), detected: false, kind: 'secret', ruleId: 'anomaly-unusual-hours', userId: 'owl', path: '$', sessionId: null, server: null, projectId: null, interactionId: null,
      status: 'acknowledged', statusEventId: '0190a000-0000-7000-8000-000000000000', statusChangedAt: '2026-05-22T00:00:00.000Z', anomaly: { calls: {}, errors: {}, first: null, hours, lastByHour },
    } as RiskFindingDoc;
    // Only the newer calls in the hour documents, the rest in the old document: the same counts as all in one.
    const fresh = foldAll([night, ...day.slice(150)]);
    const [merged] = hoursOf(new Map([...fresh, [oldDoc.id, oldDoc]]));
    const [whole] = hoursOf(newer);
    expect(merged).toMatchObject({ ...riskFindingFields(whole!), status: 'acknowledged' });
    // read twice (by two scans), counted once
    expect(hoursOf(new Map([...fresh, [oldDoc.id, oldDoc]]))).toEqual(expandFindings([...fresh.values(), oldDoc, oldDoc]).filter((doc) => doc.ruleId === 'anomaly-unusual-hours'));
  });
});

const riskFindingFields = ({ id, ruleId, severity, ts, userId, detail }: RiskFindingDoc) => ({ id, ruleId, severity, ts, userId, detail });

const blankFinding = (id: string) => ({
  id, orgId: 'org-a', detected: false, kind: 'secret', ruleId: '', severity: 'low', path: '$', sessionId: null, interactionId: null, server: null, tool: null, userId: null, projectId: null,
  ts: '', day: '', status: 'open', statusEventId: null, statusChangedAt: null, preview: null, detail: null, anomaly: null,
});
